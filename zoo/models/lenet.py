"""LeNet-5 (LeCun et al. 1998): conv 6@5x5, pool, conv 16@5x5, pool, dense 120, 84, classes.

ReLU and max-pooling replace the original tanh and subsampling (the usual modern form). For inputs
smaller than 32x32 (MNIST 28x28, digits 8x8) convolutions are 'same'-padded where a valid
convolution would not fit, as LeNet's own MNIST setup pads 28x28 to 32x32.
"""
import keras

from zoo.models.registry import register


@register("lenet5")
def lenet5(b, x, num_classes):
    for i, filters in enumerate((6, 16)):
        # 32x32 -> valid/valid (16 x 5 x 5 features); 28x28 -> same/valid (also 5x5); smaller -> same.
        padding = "valid" if int(x.shape[1]) >= (32 if i == 0 else 10) else "same"
        x = b.conv(x, b.channels(filters), 5, padding=padding, use_bias=True, name=f"conv{i}")
        x = b.relu_hidden(x, f"conv{i}")
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate((120, 84)):
        x = b.relu_hidden(b.dense(x, b.channels(units), name=f"fc{i}"), f"fc{i}")
    return b.dense(x, num_classes, name="fc")
