"""Plain training (the "vanilla" / "no defense" rows of PNI Table 3 and ANP's "Vanilla").

``--train_input_noise=s`` adds N(0, s^2) to every training image (pixel scale, no clipping), a
training-only augmentation: ANP's baseline "VGG-16 model trained with Gaussian noise N(0, 0.1) added
to input" (ANP sec. "Corruption Robustness Evaluation"). The served model is unchanged by it.
"""
import tensorflow as tf

from trainers.base import Trainer, register


@register("vanilla")
class VanillaTrainer(Trainer):
    """Cross-entropy on clean images; noise layers of the model (if any) stay active in training."""

    def objective(self, x, y):
        sigma = self.config.train_input_noise
        if sigma:
            x = x + tf.random.normal(tf.shape(x), stddev=sigma, dtype=x.dtype)
        return super().objective(x, y)
