"""VGG-11/13/16/19 with batch normalisation, CIFAR variant (Simonyan & Zisserman 2015; ANP uses VGG-16).

3x3 convs (+BN+ReLU) and 2x2 max-pools as in the configurations A/B/D/E; for 32x32 inputs the
feature map is 1x1x512 after the fifth pool and a single dense layer classifies it (the common
CIFAR adaptation). Pools use 'same' padding so that small inputs (digits 8x8) still build.
"""
import keras

from zoo.models.registry import register

CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}


def vgg(b, x, num_classes, depth):
    conv, pool = 0, 0
    for item in CONFIGS[depth]:
        if item == "M":
            pool += 1
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{pool}")(x)
        else:
            x = b.conv(x, b.channels(item), 3, use_bias=True, name=f"conv{conv}")
            x = b.bn_relu(x, f"conv{conv}")
            conv += 1
    x = keras.layers.GlobalAveragePooling2D(name="flatten")(x)
    return b.dense(x, num_classes, name="fc")


for _depth in CONFIGS:
    register(f"vgg{_depth}", depth=_depth)(vgg)
