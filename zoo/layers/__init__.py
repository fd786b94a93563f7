"""Keras 3 layers of the zoo. Each declares ``is_random`` and ``is_differentiable`` (read by eval)."""
from zoo.layers.anp import NoiseRegister, inject_noise, registers
from zoo.layers.batch_norm import FusedBatchNorm
from zoo.layers.base import StochasticLayer, ZooLayer, straight_through
from zoo.layers.channels import CHANNELS, make_channel, parse_channel_spec
from zoo.layers.color_depth import ColorDepth
from zoo.layers.fft_compress import FFTCompress, low_frequency_mask
from zoo.layers.noise import GaussianNoise, GaussianNoiseLayer, LaplaceNoise, UniformNoise  # GaussianNoise: old name
from zoo.layers.normalize import Normalize
from zoo.layers.param_noise import ParamNoiseConv2D, ParamNoiseDense
from zoo.layers.shortcut import PadShortcut
from zoo.layers.pni import PNIConv2D, PNIDense, is_alpha, parse_placement, pni_perturb
from zoo.layers.svd_compress import SVDCompress

__all__ = [
    "CHANNELS", "ColorDepth", "FFTCompress", "FusedBatchNorm", "GaussianNoise", "GaussianNoiseLayer", "LaplaceNoise",
    "NoiseRegister", "Normalize", "ParamNoiseConv2D", "ParamNoiseDense", "PNIConv2D", "PadShortcut", "PNIDense",
    "SVDCompress", "StochasticLayer", "UniformNoise", "ZooLayer",
    "inject_noise", "is_alpha", "low_frequency_mask", "make_channel", "parse_channel_spec", "parse_placement",
    "pni_perturb", "registers", "straight_through",
]
