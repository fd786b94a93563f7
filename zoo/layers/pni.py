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


# The one PNI vocabulary: the paper's variant names (Table 2) and the internal placements, lower-cased.
# "i" (PNI-I: a_in on the first layer only) is a model-level placement; a layer takes the other three.
PAPER_NAMES = {"w": "w", "a-a": "a_out", "a_out": "a_out", "a-b": "a_in", "a_in": "a_in", "i": "i"}
PNI_VARIANTS = ("W", "A-a", "A-b", "I", "W+A-a", "W+A-b")
MODEL_PLACEMENTS = PLACEMENTS + ("i",)


def parse_pni(spec, model=False):
    """'W+A-a', 'w+a_out', ('w', 'a_in'), ... -> a sorted tuple of placements, validated; () for none.

    ``model=True`` (``zoo.create(pni=...)``) also takes "i" and names the paper's variants in errors;
    a layer (``PNIConv2D(pni=...)``) takes only "w", "a_out" and "a_in".
    """
    if spec in (None, "", "none", False):
        return ()
    items = str(spec).replace(" ", "").split("+") if isinstance(spec, str) else [str(p) for p in spec]
    allowed = MODEL_PLACEMENTS if model else PLACEMENTS
    parsed = []
    for item in (p.strip() for p in items if p.strip()):
        key = PAPER_NAMES.get(item.lower())
        if key not in allowed:
            raise choice_error("PNI variant", spec, PNI_VARIANTS) if model else \
                choice_error("PNI placement", item, PLACEMENTS)
        parsed.append(key)
    return tuple(sorted(set(parsed), key=MODEL_PLACEMENTS.index))


def parse_placement(placement):
    """A layer's placements: ``parse_pni(placement)`` ('w', 'w+a_out', ('w', 'a_in'), ...)."""
    return parse_pni(placement)


def is_alpha(variable):
    """True for a PNI noise scale (a variable named ``alpha_<placement>``, as ``PNIConv2D``/``PNIDense`` name
    them): what weight decay skips (PNI sec. 3.1) and capacity counts leave out (Table 3)."""
    name = str(getattr(variable, "path", None) or getattr(variable, "name", "")).split("/")[-1].split(":")[0]
    return name in {f"alpha_{p}" for p in PLACEMENTS}


def pni_perturb(v, alpha, eta_unit):
    """PNI eq. (5): v + alpha * eta with eta = stop_gradient(std(v)) * eta_unit, eta_unit ~ N(0, 1)."""
    sigma = tf.stop_gradient(tf.math.reduce_std(v))
    return v + alpha * (sigma * eta_unit)


class _PNIMixin:
    """Everything of PNIConv2D and PNIDense but their linear map (``linear``): the alpha variables, the
    noise draws, build, call and config. Put it before the Keras layer class in the bases. (ParamNoise's
    call has the same shape: it perturbs only the kernel, by a fixed scale, so the two stay apart.)"""

    is_random = True
    is_differentiable = True

    def build(self, input_shape):
        super().build(input_shape)
        self._build_alphas(input_shape, self.kernel.shape, self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        active = self.noise_active(training)
        inputs = self._maybe_perturb("a_in", inputs, active)
        kernel = self._maybe_perturb("w", self.kernel, active)
        outputs = self.linear(inputs, tf.cast(kernel, inputs.dtype))
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

    def __init__(self, filters, kernel_size, pni="w", granularity="layerwise", alpha_init=ALPHA_INIT,
                 inference_noise=True, seed=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._pni_init(pni, granularity, alpha_init, inference_noise, seed)

    def linear(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="zoo")
class PNIDense(_PNIMixin, keras.layers.Dense):
    """Dense with Parametric Noise Injection on its weight, input and/or output (PNI eq. 5-8)."""

    def __init__(self, units, pni="w", granularity="layerwise", alpha_init=ALPHA_INIT,
                 inference_noise=True, seed=None, **kwargs):
        super().__init__(units, **kwargs)
        self._pni_init(pni, granularity, alpha_init, inference_noise, seed)

    def linear(self, inputs, kernel):
        return tf.matmul(inputs, kernel)
