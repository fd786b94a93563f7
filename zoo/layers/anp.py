"""ANP noise register (Liu et al., "Training Robust Deep Neural Networks via Adversarial Noise Propagation").

ANP Algorithm 1, lines 7-9: z_m = a_{m-1} w_{m-1} + b_{m-1}; z_m += r_m; a_m = relu(z_m). A
``NoiseRegister`` sits after the affine transformation (conv + batch norm) and before the activation
of a hidden layer. It is the identity unless a trainer supplies a per-example tensor r_m through
``inject_noise``; then it returns z_m + r_m, so the gradient of the loss w.r.t. the supplied r_m is
exactly dL/dz_m (the g_m of eq. 2). At inference nothing is supplied: the register is discarded, as
the paper says, and costs nothing.

The supplied tensors live in thread-local, trace-time state, so the same model object can be used
with and without registers inside ``tf.function``/XLA and under ``tf.distribute`` replicas.
"""
import contextlib
import threading

import keras

from zoo.layers.base import ZooLayer

_STATE = threading.local()


def _current():
    return getattr(_STATE, "registers", {})


@contextlib.contextmanager
def inject_noise(registers):
    """Within the block, each ``NoiseRegister`` named in ``registers`` adds ``registers[name]``."""
    previous = _current()
    _STATE.registers = {**previous, **registers}
    try:
        yield
    finally:
        _STATE.registers = previous


@keras.saving.register_keras_serializable(package="zoo")
class NoiseRegister(ZooLayer):
    """Identity, or z + r_m while ``inject_noise({name: r_m})`` is active (ANP Alg. 1 line 8)."""

    def call(self, inputs):
        r = _current().get(self.name)
        if r is None:
            return inputs
        return inputs + keras.ops.cast(r, inputs.dtype)


def registers(model):
    """The model's NoiseRegister layers in forward order (first = bottom layer, ANP's top-m)."""
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, NoiseRegister)]
