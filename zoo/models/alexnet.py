"""AlexNet (Krizhevsky et al. 2012) in two sizes.

* ``alexnet``: the 224x224 ImageNet network (5 convs 64/192/384/256/256 with 11/5/3/3/3 kernels,
  3 max-pools, dropout and 4096-4096 dense layers; the torchvision layout, without LRN:
  57,044,810 parameters for 10 classes, 61,100,840 for 1000).
* ``alexnet_cifar``: the 32x32 CIFAR variant of cuda-convnet used in CIFAR robustness work (two 5x5
  conv layers with 64 channels and 3x3/2 max-pools, dense 384 and 192, then the classifier; no LRN).
"""
import keras

from zoo.models.registry import IMAGENET_MEAN, IMAGENET_STD, register


@register("alexnet", input_shape=(224, 224, 3), mean=IMAGENET_MEAN, std=IMAGENET_STD)
def alexnet(b, x, num_classes, dropout=0.5):
    specs = [(64, 11, 4, True), (192, 5, 1, True), (384, 3, 1, False), (256, 3, 1, False), (256, 3, 1, True)]
    for i, (filters, kernel, stride, pool) in enumerate(specs):
        # torchvision geometry: padding 2 on conv0, 'same' after, valid 3x3/2 pools: 224 -> 55 -> 27 -> 13 -> 6.
        if i == 0:
            x = keras.layers.ZeroPadding2D(2, name="conv0_pad")(x)
        x = b.conv(x, b.channels(filters), kernel, strides=stride, padding="valid" if i == 0 else "same",
                   use_bias=True, name=f"conv{i}")
        x = b.relu_hidden(x, f"conv{i}")
        if pool:
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i in range(2):
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
        x = b.relu_hidden(b.dense(x, b.channels(4096), name=f"fc{i}"), f"fc{i}")
    return b.dense(x, num_classes, name="fc")


@register("alexnet_cifar")
def alexnet_cifar(b, x, num_classes):
    for i in range(2):
        x = b.conv(x, b.channels(64), 5, use_bias=True, name=f"conv{i}")
        x = b.relu_hidden(x, f"conv{i}")
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate((384, 192)):
        x = b.relu_hidden(b.dense(x, b.channels(units), name=f"fc{i}"), f"fc{i}")
    return b.dense(x, num_classes, name="fc")
