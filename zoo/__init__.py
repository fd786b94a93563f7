"""Robustness zoo: noise-defended Keras 3 models (PNI, ANP, RobustNet, input channels) and their export.

    import zoo
    model = zoo.create("resnet20", num_classes=10, input_shape=(32, 32, 3), width=2, pni="W")
    zoo.export(model, "exported_models", name="pni_resnet20")
    zoo.list_pretrained(); trained = zoo.load("vanilla_resnet20")   # the shipped, trained models
"""
from zoo import _tf_env  # noqa: F401  (TensorFlow's environment, before TensorFlow loads)
from zoo.errors import ZooError  # noqa: E402
from zoo.models import PNI_VARIANTS, Variant, count_params, create, list_models, register  # noqa: E402
from zoo.export import export, read_metadata  # noqa: E402
from zoo.noise_control import bpda, inference_noise, no_noise, randomness, set_inference_noise  # noqa: E402
from zoo.pretrained import list_pretrained, load, pretrained_dir  # noqa: E402

__all__ = [
    "PNI_VARIANTS", "Variant", "ZooError", "bpda", "count_params", "create", "export", "inference_noise",
    "list_models", "list_pretrained", "load", "no_noise", "pretrained_dir", "randomness", "read_metadata", "register",
    "set_inference_noise",
]
