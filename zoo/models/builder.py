"""The variant machinery shared by every architecture: one place decides which layer a "conv" is.

Architectures call ``Builder.conv`` / ``Builder.dense`` / ``Builder.bn_relu`` and never test variants
themselves, so every variant works for every architecture:

* ``pni``: PNI placement for every conv/dense layer (PNI Table 2): ``"W"`` (weights), ``"A-a"``
  (layer output), ``"A-b"`` (layer input), ``"I"`` (input of the first layer only), ``"W+A-a"``,
  ``"W+A-b"``; the internal names ``w``, ``a_out``, ``a_in``, ``i`` are accepted too.
* ``pni_granularity``: ``layerwise`` (paper default), ``channelwise``, ``elementwise``.
* ``robustnet``: a GaussianNoiseLayer before every conv, ``sigma_init`` before the first and
  ``sigma_inner`` before the rest (RobustNet, Liu et al. 2018; perturbation study sec. 3.7).
* ``anp_layers``: m, a NoiseRegister after the affine transformation (conv + BN) and before the
  activation of the first m hidden layers (ANP Algorithm 1 line 8; "top-m layers", ANP Fig. 2).
* ``channel``: an input channel in front of the normalisation (perturbation study App. C), e.g.
  ``"color_depth:bits=4"``.
* ``paramnet``: sigma > 0, ParamNet (perturbation study sec. 3.6, Fig. 5 left): every conv/dense
  weight gets fixed Gaussian noise of std sigma * std(w) on every call; nothing about the noise is
  trained. ``paramnet_train_noise=False`` keeps the noise out of training calls ("noise only during
  inference").
* ``fft_layers`` / ``fft_fraction``: band-limited convolutions (perturbation study App. E.1.1; Dziedzic
  et al. 2019): an FFTCompress layer keeping the lowest ``fft_fraction`` of each channel's spectrum
  right before the chosen convs, in training and inference: ``"input"`` (the first conv, i.e. the
  network input), ``"all"``, or conv indices in build order (``"0,3,5"``).
* ``hidden_noise``: sigma > 0, a GaussianNoiseLayer N(0, sigma^2) on the pre-activation of every
  hidden layer (after conv/dense + BN, before ReLU; ANP's z_m), in training and inference (ANP sec.
  "Is It Necessary to Inject Noises to All Layers?": "randomly perturbing each layer with gaussian
  noise N(0, 0.1)").
"""
import dataclasses

import keras

from zoo.errors import ZooError, choice_error
from zoo.layers import (FFTCompress, FusedBatchNorm, GaussianNoiseLayer, NoiseRegister, ParamNoiseConv2D,
                        ParamNoiseDense, PNIConv2D, PNIDense, make_channel, parse_placement)
from zoo.layers.pni import ALPHA_INIT, GRANULARITIES, PNI_VARIANTS, parse_pni  # noqa: F401 (re-exported)


def normalise_pni(pni):
    """Paper names ('W+A-a') or internal ones ('w+a_out') -> canonical 'w+a_out'; None for no PNI."""
    return "+".join(parse_pni(pni, model=True)) or None


def parse_fft_layers(spec):
    """``fft_layers`` -> None (off), "all", or a sorted tuple of conv indices ("input" is conv 0)."""
    if spec in (None, "", "none", False):
        return None
    if isinstance(spec, (tuple, list)):
        items = [str(i) for i in spec]
    else:
        items = [p.strip() for p in str(spec).split(",") if p.strip()]
    if items == ["all"]:
        return "all"
    indices = set()
    for item in items:
        if item == "input":
            indices.add(0)
        elif item.isdigit():
            indices.add(int(item))
        else:
            raise ZooError(f"fft_layers={spec!r}: expected 'input', 'all' or comma-separated conv indices "
                           f"(0 = first conv), e.g. '0,3,5'")
    return tuple(sorted(indices))


def _field(default, help, **metadata):
    """A dataclass field with its flag help (and closed ``choices``) in ``metadata``."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class Variant:
    """A model variant; every field is a keyword of ``zoo.create``. A field's ``metadata["help"]`` is the help
    of the trainers' flag of the same name (``trainers.cli.define_flags``); ``mean``/``std`` come from the dataset."""

    width: float = _field(1.0, "width multiplier (PNI Table 3: 1, 1.5, 2, 4)")
    pni: str = _field(None, "PNI variant: W, A-a, A-b, I, W+A-a, W+A-b (PNI Table 2); the pni method defaults to W")
    pni_granularity: str = _field("layerwise", "layerwise | channelwise | elementwise", choices=GRANULARITIES)
    pni_alpha_init: float = _field(ALPHA_INIT, "PNI: initial alpha of every noise scale (PNI sec. 3.1: 0.25)")
    robustnet: bool = _field(False, "Gaussian noise layer before every conv (RobustNet)")
    sigma_init: float = _field(0.2, "RobustNet noise std before the first conv")
    sigma_inner: float = _field(0.1, "RobustNet noise std before the other convs")
    anp_layers: int = _field(0, "ANP/LAT: noise registers on the first m hidden layers (top-m)")
    channel: str = _field(None, "input channel spec, e.g. color_depth:bits=4 or fft_compress:fraction=0.7")
    paramnet: float = _field(0.0, "ParamNet: fixed weight noise of std sigma * std(w) on every conv/dense (Study 3.6)")
    paramnet_train_noise: bool = _field(True, "ParamNet: noise in training too (off: inference only)")
    fft_layers: str = _field(None, "band-limited convs: FFTCompress before 'input' (first conv), 'all', or "
                             "conv indices '0,3,5' (Study App. E.1.1)")
    fft_fraction: float = _field(0.5, "band-limited convs: kept fraction of each spectrum (1 - compression rate)")
    hidden_noise: float = _field(0.0, "Gaussian noise std on every hidden layer's pre-activation (ANP baseline)")
    mean: tuple = None
    std: tuple = None

    def __post_init__(self):
        object.__setattr__(self, "pni", normalise_pni(self.pni))
        if self.width <= 0:
            raise ZooError(f"width={self.width}: expected a multiplier > 0 (paper: 1, 1.5, 2, 4)")
        if self.pni_granularity not in GRANULARITIES:
            raise choice_error("pni_granularity", self.pni_granularity, GRANULARITIES)
        if not self.pni_alpha_init >= 0:
            raise ZooError(f"pni_alpha_init={self.pni_alpha_init}: expected a noise scale >= 0 (PNI sec. 3.1: 0.25)")
        if self.anp_layers < 0:
            raise ZooError(f"anp_layers={self.anp_layers}: expected an integer >= 0")
        if self.sigma_init < 0 or self.sigma_inner < 0:
            raise ZooError(f"sigma_init={self.sigma_init}, sigma_inner={self.sigma_inner}: expected values >= 0")
        if not self.paramnet >= 0:
            raise ZooError(f"paramnet={self.paramnet}: expected a noise scale >= 0 (std of the noise / std(w))")
        if self.paramnet and self.pni:
            raise ZooError(f"paramnet={self.paramnet} with pni={self.pni!r}: expected one weight-noise variant, "
                           "ParamNet (fixed scale) or PNI (trained scale), not both")
        if not self.hidden_noise >= 0:
            raise ZooError(f"hidden_noise={self.hidden_noise}: expected a standard deviation >= 0")
        if not 0.0 < self.fft_fraction <= 1.0:
            raise ZooError(f"fft_fraction={self.fft_fraction}: expected the kept fraction of the spectrum in (0, 1] "
                           "(1 - compression rate)")
        parsed = parse_fft_layers(self.fft_layers)
        object.__setattr__(self, "fft_layers", parsed if parsed in (None, "all") else ",".join(map(str, parsed)))

    @classmethod
    def fields(cls):
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self):
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


class Builder:
    """Creates the layers of one model for one Variant, numbering convs and hidden layers in order."""

    def __init__(self, variant):
        self.variant = variant
        self.num_convs = 0
        self.num_hidden = 0
        self.num_dense = 0
        self.fft_layers = parse_fft_layers(variant.fft_layers)

    def check(self):
        """After the architecture is built: every requested conv index exists (one-line error otherwise)."""
        if isinstance(self.fft_layers, tuple) and self.fft_layers and self.fft_layers[-1] >= self.num_convs:
            raise ZooError(f"fft_layers={self.variant.fft_layers!r}: expected conv indices < {self.num_convs}, "
                           f"the number of convs in this model (0 .. {self.num_convs - 1})")

    def _band_limited(self, index):
        return self.fft_layers == "all" or (isinstance(self.fft_layers, tuple) and index in self.fft_layers)

    def channels(self, base):
        """Width-scaled channel count (PNI Table 3 widens every layer's input and output channels)."""
        return max(1, int(round(base * self.variant.width)))

    def _placements(self, first):
        pni = self.variant.pni
        if pni is None:
            return ()
        parts = pni.split("+")
        if "i" in parts:
            parts.remove("i")
            if first:
                parts.append("a_in")
        return parse_placement(parts)

    def input_channel(self, x):
        if self.variant.channel is None:
            return x
        return make_channel(self.variant.channel)(x)

    def conv(self, x, filters, kernel_size, strides=1, padding="same", use_bias=False, name=None):
        index = self.num_convs
        first = index == 0
        self.num_convs += 1
        if self.variant.robustnet:
            sigma = self.variant.sigma_init if first else self.variant.sigma_inner
            x = GaussianNoiseLayer(sigma, name=f"{name}_noise")(x)
        if self._band_limited(index):
            x = FFTCompress(self.variant.fft_fraction, name=f"{name}_fft")(x)
        placements = self._placements(first)
        common = dict(strides=strides, padding=padding, use_bias=use_bias,
                      kernel_initializer="he_normal", name=name)
        if placements:
            layer = PNIConv2D(filters, kernel_size, pni=placements, granularity=self.variant.pni_granularity,
                              alpha_init=self.variant.pni_alpha_init, **common)
        elif self.variant.paramnet:
            layer = ParamNoiseConv2D(filters, kernel_size, sigma=self.variant.paramnet,
                                     train_noise=self.variant.paramnet_train_noise, **common)
        else:
            layer = keras.layers.Conv2D(filters, kernel_size, **common)
        return layer(x)

    def dense(self, x, units, activation=None, name=None):
        first = self.num_convs == 0 and self.num_dense == 0
        self.num_dense += 1
        placements = self._placements(first)
        if placements:
            layer = PNIDense(units, pni=placements, granularity=self.variant.pni_granularity,
                             alpha_init=self.variant.pni_alpha_init, activation=activation, name=name)
        elif self.variant.paramnet:
            layer = ParamNoiseDense(units, sigma=self.variant.paramnet, train_noise=self.variant.paramnet_train_noise,
                                    activation=activation, name=name)
        else:
            layer = keras.layers.Dense(units, activation=activation, name=name)
        return layer(x)

    def hidden(self, x, name):
        """Mark the end of a hidden layer's affine part: an ANP register if it is among the first m, then
        the ``hidden_noise`` Gaussian layer if asked (both add to ANP's pre-activation z_m)."""
        self.num_hidden += 1
        if self.num_hidden <= self.variant.anp_layers:
            x = NoiseRegister(name=f"{name}_anp")(x)
        if self.variant.hidden_noise:
            x = GaussianNoiseLayer(self.variant.hidden_noise, name=f"{name}_hidden_noise")(x)
        return x

    def bn(self, x, name):
        return FusedBatchNorm(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)  # Keras BN in one fused op

    def bn_relu(self, x, name):
        """BN -> (ANP register) -> ReLU: the pre-activation z_m of ANP Algorithm 1 is the BN output."""
        x = self.hidden(self.bn(x, name), name)
        return keras.layers.ReLU(name=f"{name}_relu")(x)

    def relu_hidden(self, x, name):
        """(ANP register) -> ReLU for layers without BN (AlexNet, LeNet, dense layers)."""
        return keras.layers.ReLU(name=f"{name}_relu")(self.hidden(x, name))
