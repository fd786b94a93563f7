"""ResNets for CIFAR.

* ResNet-20/32/44/56 (He et al. 2016, sec. 4.2): 3 stages of n basic blocks with 16/32/64 channels
  (times ``width``; PNI Table 3 widens them 1.5x/2x/4x), parameter-free shortcuts (option A:
  subsample + zero-pad channels), global average pooling, one dense layer. Depth = 6n + 2.
* ResNet-18, CIFAR variant (PNI Table 4): 3x3 stem with 64 channels, 4 stages of 2 basic blocks
  with 64/128/256/512 channels, 1x1 conv + BN projection shortcuts when the shape changes.
"""
import keras

from zoo.layers import PadShortcut
from zoo.models.registry import register


def _basic_block(b, x, filters, stride, name, projection):
    shortcut = x
    y = b.conv(x, filters, 3, strides=stride, name=f"{name}_conv1")
    y = b.bn_relu(y, f"{name}_conv1")
    y = b.conv(y, filters, 3, name=f"{name}_conv2")
    y = b.hidden(b.bn(y, f"{name}_conv2"), f"{name}_conv2")
    if stride != 1 or int(x.shape[-1]) != filters:
        if projection:
            shortcut = b.conv(x, filters, 1, strides=stride, name=f"{name}_shortcut")
            shortcut = b.bn(shortcut, f"{name}_shortcut")
        else:
            shortcut = PadShortcut(filters, stride, name=f"{name}_shortcut")(x)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_relu")(y)


def cifar_resnet(b, x, num_classes, depth):
    """He et al. CIFAR ResNet-(6n+2) with option-A shortcuts."""
    n = (depth - 2) // 6
    x = b.conv(x, b.channels(16), 3, name="conv0")
    x = b.bn_relu(x, "conv0")
    for stage, base in enumerate((16, 32, 64), start=1):
        for block in range(n):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _basic_block(b, x, b.channels(base), stride, f"stage{stage}_block{block}", projection=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return b.dense(x, num_classes, name="fc")


for _depth in (20, 32, 44, 56):
    register(f"resnet{_depth}", depth=_depth)(cifar_resnet)


@register("resnet18")
def resnet18(b, x, num_classes):
    """CIFAR ResNet-18 (11,173,962 parameters at width 1, PNI Table 4)."""
    x = b.conv(x, b.channels(64), 3, name="conv0")
    x = b.bn_relu(x, "conv0")
    for stage, (base, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
        for block in range(2):
            x = _basic_block(b, x, b.channels(base), stride if block == 0 else 1,
                             f"stage{stage}_block{block}", projection=True)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return b.dense(x, num_classes, name="fc")
