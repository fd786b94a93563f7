"""One way to turn a model's inference noise on or off, switch BPDA, and describe its randomness.

Used by ``zoo.export`` (serving_default keeps the trained noise, serve_deterministic turns every
noise source off: PNI Table 2 "test with / without PNI") and by ``eval`` (EOT for random models,
BPDA for non-differentiable channels; Athalye et al. 2018).
"""
import contextlib


def zoo_layers(model):
    """Every layer of ``model`` (nested models included) that declares ``is_random``."""
    return [layer for layer in model._flatten_layers(include_self=False) if hasattr(layer, "is_random")]


def set_inference_noise(model, enabled):
    """Switch inference noise of every random layer; returns the previous states {layer name: bool}."""
    previous = {}
    for layer in zoo_layers(model):
        if layer.is_random:
            previous[layer.name] = layer.inference_noise
            layer.inference_noise = bool(enabled)
    return previous


@contextlib.contextmanager
def inference_noise(model, enabled):
    """Context manager: inference noise on/off for the block, previous states restored after."""
    previous = set_inference_noise(model, enabled)
    try:
        yield model
    finally:
        for layer in zoo_layers(model):
            if layer.name in previous:
                layer.inference_noise = previous[layer.name]


@contextlib.contextmanager
def no_noise(model):
    """Context manager: every noise source off for the block, in training calls too.

    PNI Table 1's ablation "PNI-W + adv. train without PNI in x_adv generation" generates x_adv
    this way while the model keeps its training-mode batch norm.
    """
    layers = [layer for layer in zoo_layers(model) if layer.is_random]
    for layer in layers:
        layer.noise_off = True
    try:
        yield model
    finally:
        for layer in layers:
            layer.noise_off = False


@contextlib.contextmanager
def bpda(model, enabled=True):
    """Context manager: identity backward through every non-differentiable layer (BPDA) for the block."""
    layers = [layer for layer in zoo_layers(model) if not layer.is_differentiable]
    previous = [layer.bpda for layer in layers]
    for layer in layers:
        layer.bpda = enabled
    try:
        yield model
    finally:
        for layer, state in zip(layers, previous):
            layer.bpda = state


def randomness(model):
    """What eval needs to know: is the model random at inference, and which layers are not differentiable."""
    layers = zoo_layers(model)
    random_layers = [layer.name for layer in layers if layer.is_random and layer.inference_noise]
    nondiff = [layer.name for layer in layers if not layer.is_differentiable]
    return {
        "is_random": bool(random_layers),
        "is_differentiable": not nondiff,
        "random_layers": random_layers,
        "nondifferentiable_layers": nondiff,
    }
