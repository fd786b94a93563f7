import keras
import pytest
import tensorflow as tf

import zoo
from trainers import run  # noqa: F401  (registers every method)
from trainers.base import TRAINERS
from trainers.config import TrainConfig


def tiny_config(method, **overrides):
    """A TrainConfig for an 8x8 digits-sized ResNet-20 at width 1/8 with a 2-step adversary."""
    base = dict(method=method, model="resnet20", width=0.125, dataset="digits", batch_size=32, epochs=2,
                lr=0.05, lr_boundaries=(), weight_decay=5e-4, steps=2, eps=0.1, step_size=0.05, augment=False,
                anp_layers=2, anp_clean_epochs=0)
    base.update(overrides)
    return TrainConfig.from_flat(**base)


def make_trainer(config, input_shape=(8, 8, 1), num_classes=10):
    keras.utils.set_random_seed(config.seed)
    cls = TRAINERS[config.method]
    net = zoo.create(config.model, num_classes=num_classes, input_shape=input_shape, **cls.model_options(config))
    trainer = cls(net, config)
    trainer.compile(optimizer=keras.optimizers.SGD(config.lr, momentum=config.momentum, nesterov=config.nesterov),
                    jit_compile=config.jit_compile)
    return trainer


@pytest.fixture(scope="session")
def digits_batch():
    from zoo import data
    x, y = data.as_numpy("digits", "train", 64)
    return tf.constant(x), tf.constant(y)
