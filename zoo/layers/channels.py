"""Input channels by name: the perturbation study's six channels (Appendix C, D.1) behind one registry.

A channel spec is ``"name"`` or ``"name:key=value,key=value"``, e.g. ``"color_depth:bits=4"``,
``"fft_compress:fraction=0.7"``, ``"gaussian:stddev=0.03"``, so a flag value maps to one layer.
"""
import inspect

from zoo.errors import ZooError, choice_error
from zoo.layers.color_depth import ColorDepth
from zoo.layers.fft_compress import FFTCompress
from zoo.layers.noise import GaussianNoiseLayer, LaplaceNoise, UniformNoise
from zoo.layers.svd_compress import SVDCompress

CHANNELS = {
    "fft_compress": FFTCompress,
    "color_depth": ColorDepth,
    "svd_compress": SVDCompress,
    "gaussian": GaussianNoiseLayer,
    "uniform": UniformNoise,
    "laplace": LaplaceNoise,
}


def _parse_value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_channel_spec(spec):
    """'color_depth:bits=4' -> ('color_depth', {'bits': 4}); validates the name."""
    name, _, params = spec.partition(":")
    name = name.strip()
    if name not in CHANNELS:
        raise choice_error("input channel", name, CHANNELS)
    kwargs = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ZooError(f"input channel parameter {item!r} in {spec!r}: expected key=value")
        kwargs[key.strip()] = _parse_value(value.strip())
    return name, kwargs


def make_channel(spec, name=None):
    """A channel layer from a spec string (see module doc) or a (name, kwargs) pair."""
    channel, kwargs = parse_channel_spec(spec) if isinstance(spec, str) else spec
    cls = CHANNELS[channel]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    for key in kwargs:
        if key not in accepted:
            raise choice_error(f"parameter of input channel {channel!r}:", key, accepted)
    return cls(name=name or f"channel_{channel}", **kwargs)
