"""ParamNet (perturbation study sec. 3.6, Fig. 5 left): fixed Gaussian weight noise, no adversarial training.

Every conv/dense weight w is used as w + sigma * eta, eta ~ N(0, std(w)^2) drawn on every call
(``zoo.layers.ParamNoiseConv2D`` / ``ParamNoiseDense``; PNI-W with the scale fixed, "a simplified
version of (He et al., 2019) but without adversarial training"). Training is plain cross-entropy on
clean images. ``--paramnet=sigma`` sets the scale (0.25, PNI's initial alpha, when not given);
``--noparamnet_train_noise`` keeps the noise out of training, the study's "noise only during
inference (test)" curve of Fig. 5.
"""
from trainers.base import register
from trainers.methods.vanilla import VanillaTrainer

DEFAULT_SIGMA = 0.25


@register("paramnet")
class ParamNetTrainer(VanillaTrainer):
    """Clean training of a ParamNet variant (the noise scale is a constant, nothing about it is trained)."""

    @classmethod
    def model_options(cls, config):
        return {**super().model_options(config), "paramnet": config.variant.paramnet or DEFAULT_SIGMA}
