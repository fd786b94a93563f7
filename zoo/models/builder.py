"""The variant machinery shared by every architecture: one place decides which layer a "conv" is.

Architectures call ``Builder.conv`` / ``Builder.dense`` / ``Builder.bn_relu`` and never test variants
themselves, so every variant works for every architecture:

* ``pni``: PNI placement for every conv/dense layer (PNI Table 2): ``"W"`` (weights), ``"A-a"``
  (layer output), ``"A-b"`` (layer input), ``"I"`` (input of the first layer only), ``"W+A-a"``,
  ``"W+A-b"``; the internal names ``w``, ``a_out``, ``a_in``, ``i`` are accepted too.
* ``pni_granularity``: ``layerwise`` (paper default), ``channelwise``, ``elementwise``.
* ``robustnet``: a GaussianNoise layer before every conv, ``sigma_init`` before the first and
  ``sigma_inner`` before the rest (RobustNet, Liu et al. 2018; perturbation study sec. 3.7).
* ``anp_layers``: m, a NoiseRegister after the affine transformation (conv + BN) and before the
  activation of the first m hidden layers (ANP Algorithm 1 line 8; "top-m layers", ANP Fig. 2).
* ``channel``: an input channel in front of the normalisation (perturbation study App. C), e.g.
  ``"color_depth:bits=4"``.
"""
import dataclasses

import keras

from zoo.errors import ZooError, choice_error
from zoo.layers import GaussianNoise, NoiseRegister, PNIConv2D, PNIDense, make_channel, parse_placement
from zoo.layers.pni import GRANULARITIES

PNI_ALIASES = {
    "w": "w", "a-a": "a_out", "a_out": "a_out", "a-b": "a_in", "a_in": "a_in", "i": "i",
}
PNI_VARIANTS = ("W", "A-a", "A-b", "I", "W+A-a", "W+A-b")


def normalise_pni(pni):
    """Paper names ('W+A-a') or internal ones ('w+a_out') -> canonical 'w+a_out'; None for no PNI."""
    if pni in (None, "", "none", False):
        return None
    parts = []
    for part in str(pni).replace(" ", "").split("+"):
        key = PNI_ALIASES.get(part.lower())
        if key is None:
            raise choice_error("PNI variant", pni, PNI_VARIANTS)
        parts.append(key)
    return "+".join(sorted(set(parts), key=["w", "a_out", "a_in", "i"].index))


@dataclasses.dataclass(frozen=True)
class Variant:
    """A model variant; every field is a keyword of ``zoo.create``."""

    width: float = 1.0
    pni: str = None
    pni_granularity: str = "layerwise"
    robustnet: bool = False
    sigma_init: float = 0.2
    sigma_inner: float = 0.1
    anp_layers: int = 0
    channel: str = None
    mean: tuple = None
    std: tuple = None

    def __post_init__(self):
        object.__setattr__(self, "pni", normalise_pni(self.pni))
        if self.width <= 0:
            raise ZooError(f"width={self.width}: expected a multiplier > 0 (paper: 1, 1.5, 2, 4)")
        if self.pni_granularity not in GRANULARITIES:
            raise choice_error("pni_granularity", self.pni_granularity, GRANULARITIES)
        if self.anp_layers < 0:
            raise ZooError(f"anp_layers={self.anp_layers}: expected an integer >= 0")
        if self.sigma_init < 0 or self.sigma_inner < 0:
            raise ZooError(f"sigma_init={self.sigma_init}, sigma_inner={self.sigma_inner}: expected values >= 0")

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
        first = self.num_convs == 0
        self.num_convs += 1
        if self.variant.robustnet:
            sigma = self.variant.sigma_init if first else self.variant.sigma_inner
            x = GaussianNoise(sigma, name=f"{name}_noise")(x)
        placements = self._placements(first)
        common = dict(strides=strides, padding=padding, use_bias=use_bias,
                      kernel_initializer="he_normal", name=name)
        if placements:
            layer = PNIConv2D(filters, kernel_size, pni=placements,
                              granularity=self.variant.pni_granularity, **common)
        else:
            layer = keras.layers.Conv2D(filters, kernel_size, **common)
        return layer(x)

    def dense(self, x, units, activation=None, name=None):
        first = self.num_convs == 0 and self.num_dense == 0
        self.num_dense += 1
        placements = self._placements(first)
        if placements:
            layer = PNIDense(units, pni=placements, granularity=self.variant.pni_granularity,
                             activation=activation, name=name)
        else:
            layer = keras.layers.Dense(units, activation=activation, name=name)
        return layer(x)

    def hidden(self, x, name):
        """Mark the end of a hidden layer's affine part: an ANP register if it is among the first m."""
        self.num_hidden += 1
        if self.num_hidden <= self.variant.anp_layers:
            x = NoiseRegister(name=f"{name}_anp")(x)
        return x

    def bn(self, x, name):
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)

    def bn_relu(self, x, name):
        """BN -> (ANP register) -> ReLU: the pre-activation z_m of ANP Algorithm 1 is the BN output."""
        x = self.hidden(self.bn(x, name), name)
        return keras.layers.ReLU(name=f"{name}_relu")(x)

    def relu_hidden(self, x, name):
        """(ANP register) -> ReLU for layers without BN (AlexNet, LeNet, dense layers)."""
        return keras.layers.ReLU(name=f"{name}_relu")(self.hidden(x, name))
