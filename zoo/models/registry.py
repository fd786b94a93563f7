"""Model registry: a flag value maps to one table entry (``zoo.create(name, ...)``)."""
import inspect
from typing import Callable, NamedTuple

import keras

from zoo.errors import ZooError, choice_error
from zoo.layers import Normalize, is_alpha
from zoo.models.builder import Builder, Variant
from zoo.registry import Registry

MODELS = Registry("model")  # name -> _Model

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics on [0,1] pixels
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SHAPE = (32, 32, 3)


class _Model(NamedTuple):
    """One registered architecture: its function, default keywords and input defaults (None: the CIFAR-10 ones)."""

    fn: Callable
    defaults: dict
    input_shape: tuple = None
    mean: tuple = None
    std: tuple = None


def register(name, input_shape=None, mean=None, std=None, **defaults):
    """Register ``fn(builder, x, num_classes, **arch_kwargs) -> logits`` under ``name``.

    ``input_shape``, ``mean``, ``std``: what ``create`` uses when the caller passes none (ImageNet models:
    224x224x3 and the ImageNet statistics); otherwise 32x32x3 and the CIFAR-10 statistics.
    ``defaults``: default architecture keywords."""

    def wrap(fn):
        MODELS.register(name, _Model(fn, defaults, input_shape, mean, std))
        return fn

    return wrap


def list_models():
    """Names accepted by ``create``."""
    return MODELS.names()


def _is_int(value):
    import numbers
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _default_stats(name, channels):
    own = MODELS[name]
    if own.mean is not None and len(own.mean) == channels:
        return tuple(own.mean), tuple(own.std)
    if channels == 3:
        return CIFAR10_MEAN, CIFAR10_STD
    return (0.5,) * channels, (0.25,) * channels


def create(name, num_classes=10, input_shape=None, **options):
    """Build a zoo model: images in [0,1] -> [input channel] -> Normalize -> network -> logits.

    ``input_shape`` (H, W, C) defaults to the model's registered one (224x224x3 for ImageNet models such
    as ``resnet50`` and ``alexnet``, else 32x32x3); ``mean``/``std`` likewise (ImageNet / CIFAR-10
    statistics). Trainers always pass the dataset's (``zoo.data.info``).

    ``options`` are the Variant fields (``width``, ``pni``, ``pni_granularity``, ``robustnet``,
    ``sigma_init``, ``sigma_inner``, ``anp_layers``, ``channel``, ``mean``, ``std``; see
    ``zoo.models.builder``) plus the architecture's own keywords.
    """
    entry = MODELS.get(name)  # ZooError: unknown model 'x': expected one of ...
    fn, defaults = entry.fn, entry.defaults
    arch_params = [p for p in inspect.signature(fn).parameters if p not in ("builder", "x", "num_classes")]
    unknown = set(options) - set(Variant.fields()) - set(arch_params)
    if unknown:
        raise choice_error(f"option for model {name!r}:", sorted(unknown)[0], Variant.fields() + arch_params)
    if not _is_int(num_classes) or num_classes < 2:
        raise ZooError(f"num_classes={num_classes!r}: expected an integer >= 2")
    for key, fixed in defaults.items():  # e.g. depth: the registered name fixes it (resnet20 is depth 20)
        if key in options and (options[key] != fixed or (_is_int(fixed) and not _is_int(options[key]))):
            same = sorted(n for n, other in MODELS.items() if other.fn is fn)
            raise ZooError(f"{key}={options[key]!r} for model {name!r}: its {key} is {fixed} (fixed by the name); "
                           f"expected one of the registered models {', '.join(same)}")
    if input_shape is None:
        input_shape = entry.input_shape or DEFAULT_INPUT_SHAPE
    try:
        ok = len(input_shape) == 3 and all(_is_int(d) and d >= 1 for d in input_shape)
    except TypeError:
        ok = False
    if not ok:
        raise ZooError(f"input_shape={input_shape!r}: expected (height, width, channels), positive integers")
    input_shape = tuple(int(d) for d in input_shape)
    variant = Variant(**{k: v for k, v in options.items() if k in Variant.fields()})
    arch_kwargs = {**defaults, **{k: v for k, v in options.items() if k in arch_params}}
    mean, std = _default_stats(name, input_shape[-1])
    mean = tuple(variant.mean) if variant.mean is not None else mean
    std = tuple(variant.std) if variant.std is not None else std

    builder = Builder(variant)
    inputs = keras.Input(shape=input_shape, name="images")
    x = builder.input_channel(inputs)
    x = Normalize(mean, std, name="normalize")(x)
    logits = fn(builder, x, int(num_classes), **arch_kwargs)
    builder.check()
    model = keras.Model(inputs, logits, name=name)
    model.zoo_spec = {
        "architecture": name,
        "num_classes": int(num_classes),
        "input_shape": list(input_shape),
        "variant": {**variant.as_dict(), "mean": list(mean), "std": list(std)},
        "arch_kwargs": arch_kwargs,
    }
    return model


def count_params(model, include_alpha=False):
    """Trainable parameters; PNI's alphas are left out unless asked (PNI Table 3 "capacity")."""
    return sum(
        int(v.numpy().size) for v in model.trainable_weights
        if include_alpha or not is_alpha(v)
    )
