"""Model zoo: architectures registered by name; ``create`` builds any of them with any variant."""
from zoo.models import alexnet, lenet, resnet, resnet_imagenet, vgg  # noqa: F401  (registration)
from zoo.models.builder import PNI_VARIANTS, Variant
from zoo.models.registry import count_params, create, list_models, register

__all__ = ["PNI_VARIANTS", "Variant", "count_params", "create", "list_models", "register"]
