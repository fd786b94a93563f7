"""ResNet-50 for ImageNet (He et al. 2016, Table 1), the torchvision "v1.5" layout.

* Stem: 7x7/2 conv with 64 channels (padding 3), BN, ReLU, 3x3/2 max-pool (padding 1): 224 -> 112 -> 56.
* 4 stages of [3, 4, 6, 3] bottleneck blocks (1x1 -> 3x3 -> 1x1, expansion 4) with 64/128/256/512 inner
  channels; the stride of a stage's first block sits on its 3x3 conv (torchvision; the original paper and
  Keras' ``ResNet50`` put it on the first 1x1 conv: same parameter count; NVIDIA reports ~0.5% more
  top-1 for v1.5); a 1x1 conv + BN projection shortcut where the shape changes: 56 -> 28 -> 14 -> 7.
* Global average pooling and one dense layer.

Convolutions have no bias (BN follows each), so the model has torchvision's 25,557,032 trainable
parameters for 1000 classes (Keras' ``ResNet50``, with conv biases, has 25,583,592). BN uses the zoo's
momentum 0.9 / epsilon 1e-5 (PyTorch's defaults). Strided convs and the max-pool are padded explicitly and
symmetrically like torchvision (Keras' ``same`` pads strided layers only at the bottom/right), so weights
ported from torchvision see the same sampling grid.

Every conv/dense layer comes from the Builder, so every variant (PNI, RobustNet, ANP registers, input
channels, ``width``) applies. ANP's hidden layers are, in order: the stem, then conv1, conv2, conv3 of each
block (the BN output before the ReLU, or before the residual addition for conv3), as in ``resnet18``.
"""
import keras

from zoo.models.registry import IMAGENET_MEAN, IMAGENET_STD, register

RESNET50_BLOCKS = (3, 4, 6, 3)
EXPANSION = 4


def _bottleneck(b, x, planes, stride, name):
    """torchvision ``Bottleneck``: 1x1 (planes) -> 3x3/stride (planes) -> 1x1 (4 planes) + shortcut."""
    inner, out = b.channels(planes), b.channels(planes * EXPANSION)
    y = b.conv(x, inner, 1, name=f"{name}_conv1")
    y = b.bn_relu(y, f"{name}_conv1")
    if stride == 1:
        y = b.conv(y, inner, 3, name=f"{name}_conv2")
    else:
        y = keras.layers.ZeroPadding2D(1, name=f"{name}_conv2_pad")(y)
        y = b.conv(y, inner, 3, strides=stride, padding="valid", name=f"{name}_conv2")
    y = b.bn_relu(y, f"{name}_conv2")
    y = b.conv(y, out, 1, name=f"{name}_conv3")
    y = b.hidden(b.bn(y, f"{name}_conv3"), f"{name}_conv3")
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != out:
        shortcut = b.conv(x, out, 1, strides=stride, padding="valid", name=f"{name}_shortcut")
        shortcut = b.bn(shortcut, f"{name}_shortcut")
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_relu")(y)


def imagenet_resnet(b, x, num_classes, blocks=RESNET50_BLOCKS):
    """Bottleneck ImageNet ResNet with ``blocks`` blocks per stage ([3, 4, 6, 3] = ResNet-50)."""
    x = keras.layers.ZeroPadding2D(3, name="conv0_pad")(x)
    x = b.conv(x, b.channels(64), 7, strides=2, padding="valid", name="conv0")
    x = b.bn_relu(x, "conv0")
    # Zero padding equals torchvision's -inf padding here: the inputs are ReLU outputs (>= 0).
    x = keras.layers.ZeroPadding2D(1, name="pool0_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool0")(x)
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _bottleneck(b, x, planes, stride, f"stage{stage}_block{block}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return b.dense(x, num_classes, name="fc")


@register("resnet50", input_shape=(224, 224, 3), mean=IMAGENET_MEAN, std=IMAGENET_STD)
def resnet50(b, x, num_classes):
    """ImageNet ResNet-50 (25,557,032 parameters for 1000 classes at width 1, as torchvision)."""
    return imagenet_resnet(b, x, num_classes, RESNET50_BLOCKS)
