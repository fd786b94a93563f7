"""Parametric Noise Injection (He, Rakin & Fan, CVPR 2019).

PNI eq. (5)-(6): v~ = v + alpha * eta, eta ~ N(0, sigma^2), sigma = std(v) over the whole tensor.
sigma is treated as a constant (no gradient flows through it) and each sample of eta is a constant
in back-propagation, so dL/dalpha = sum_i dL/dv~_i * eta_i (eq. 7-8). alpha is trainable,
initialised to 0.25 and excluded from weight decay (section 3.1).

Placements (section 4.2.1, Table 2):
  * ``"w"``     PNI-W   noise on the layer's weight tensor (default of the paper);
  * ``"a_out"`` PNI-A-a noise on the layer's output tensor;
  * ``"a_in"``  PNI-A-b noise on the layer's input tensor (PNI-I is ``a_in`` on the first layer).
Granularity: ``layerwise`` (one alpha per tensor, the paper's default), ``channelwise`` (one alpha
per output channel / last-axis feature) or ``elementwise`` (one alpha per element). For all three,
sigma stays the std of the whole tensor as in eq. (6); only alpha's shape changes.
"""
import keras
import tensorflow as tf

from zoo.errors import choice_error

PLACEMENTS = ("w", "a_out", "a_in")
GRANULARITIES = ("layerwise", "channelwise", "elementwise")
ALPHA_INIT = 0.25


def parse_placement(placement):
    """'w', 'w+a_out', ('w', 'a_in'), ... -> a sorted tuple of placements, validated."""
    if placement is None:
        return ()
    items = placement.split("+") if isinstance(placement, str) else list(placement)
    items = [p.strip() for p in items if p.strip()]
    for p in items:
        if p not in PLACEMENTS:
            raise choice_error("PNI placement", p, PLACEMENTS)
    return tuple(sorted(set(items), key=PLACEMENTS.index))


def pni_perturb(v, alpha, eta_unit):
    """PNI eq. (5): v + alpha * eta with eta = stop_gradient(std(v)) * eta_unit, eta_unit ~ N(0, 1)."""
    sigma = tf.stop_gradient(tf.math.reduce_std(v))
    return v + alpha * (sigma * eta_unit)


class _PNIMixin:
    """The alpha variables and the noise draw shared by PNIConv2D and PNIDense."""

    def _pni_init(self, pni, granularity, alpha_init, inference_noise, seed):
        self.pni = parse_placement(pni)
        if granularity not in GRANULARITIES:
            raise choice_error("PNI granularity", granularity, GRANULARITIES)
        self.granularity = granularity
        self.alpha_init = float(alpha_init)
        self.inference_noise = bool(inference_noise)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.bpda = False
        self.noise_off = False
        self.alphas = {}

    def _alpha_shape(self, tensor_shape):
        if self.granularity == "layerwise":
            return ()
        if self.granularity == "channelwise":
            return (int(tensor_shape[-1]),)
        return tuple(int(d) for d in tensor_shape)

    def _build_alphas(self, input_shape, kernel_shape, output_shape):
        shapes = {"w": kernel_shape, "a_in": input_shape[1:], "a_out": output_shape[1:]}
        for p in self.pni:
            self.alphas[p] = self.add_weight(
                name=f"alpha_{p}",
                shape=self._alpha_shape(shapes[p]),
                initializer=keras.initializers.Constant(self.alpha_init),
                trainable=True,
            )

    def noise_active(self, training):
        return not self.noise_off and (bool(training) or self.inference_noise)

    def sample_eta_unit(self, shape, dtype):
        """Standard-normal draw that eq. (5) scales by sigma; advances the layer's seed generator."""
        return keras.random.normal(shape, dtype=dtype, seed=self.seed_generator)

    def _maybe_perturb(self, placement, v, active):
        if not active or placement not in self.pni:
            return v
        alpha = tf.cast(self.alphas[placement], v.dtype)
        return pni_perturb(v, alpha, self.sample_eta_unit(tf.shape(v), v.dtype))

    # keras' Conv2D/Dense save only kernel and bias (plus quantisation state); save every variable.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def _pni_config(self):
        return dict(pni="+".join(self.pni), granularity=self.granularity, alpha_init=self.alpha_init,
                    inference_noise=self.inference_noise, seed=self.seed)


@keras.saving.register_keras_serializable(package="zoo")
class PNIConv2D(_PNIMixin, keras.layers.Conv2D):
    """Conv2D with Parametric Noise Injection on its weight, input and/or output (PNI eq. 5-8)."""

    is_random = True
    is_differentiable = True

    def __init__(self, filters, kernel_size, pni="w", granularity="layerwise", alpha_init=ALPHA_INIT,
                 inference_noise=True, seed=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._pni_init(pni, granularity, alpha_init, inference_noise, seed)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_alphas(input_shape, self.kernel.shape, self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        active = self.noise_active(training)
        inputs = self._maybe_perturb("a_in", inputs, active)
        kernel = self._maybe_perturb("w", self.kernel, active)
        outputs = self.convolution_op(inputs, tf.cast(kernel, inputs.dtype))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, tf.cast(self.bias, outputs.dtype))
        outputs = self._maybe_perturb("a_out", outputs, active)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(self._pni_config())
        return config


@keras.saving.register_keras_serializable(package="zoo")
class PNIDense(_PNIMixin, keras.layers.Dense):
    """Dense with Parametric Noise Injection on its weight, input and/or output (PNI eq. 5-8)."""

    is_random = True
    is_differentiable = True

    def __init__(self, units, pni="w", granularity="layerwise", alpha_init=ALPHA_INIT,
                 inference_noise=True, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self._pni_init(pni, granularity, alpha_init, inference_noise, seed)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_alphas(input_shape, self.kernel.shape, self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        active = self.noise_active(training)
        inputs = self._maybe_perturb("a_in", inputs, active)
        kernel = self._maybe_perturb("w", self.kernel, active)
        outputs = tf.matmul(inputs, tf.cast(kernel, inputs.dtype))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, tf.cast(self.bias, outputs.dtype))
        outputs = self._maybe_perturb("a_out", outputs, active)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(self._pni_config())
        return config
