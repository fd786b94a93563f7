"""Parametric Noise Injection training (He, Rakin & Fan 2019).

* PNI-W by default (``--pni`` picks any placement of Table 2);
* x_adv by PGD with the noise active (eq. 12; Table 1 shows training fails without it;
  ``--nopni_attack_noise`` reproduces that ablation), batch norm in inference mode as the official
  code's ``Attack.pgd`` (``model.eval()``), PGD-7 step 0.01;
* x_adv crafted against the model's own prediction, not the label (sec. 3.1, no label leaking);
* ensemble loss L' = w_c * L(x) + w_a * L(x_adv), 0.5 / 0.5 by default (eq. 11); ``--w_adv=0`` makes no
  adversarial examples at all (PNI Table 1's "vanilla training" column: PNI-W trained on clean images);
* SGD momentum with weight decay that excludes alpha (sec. 3.1), alphas logged every epoch.
"""
import tensorflow as tf

from trainers.base import AdversarialTrainer, register, xent


@register("pni")
class PNITrainer(AdversarialTrainer):

    @classmethod
    def model_options(cls, config):
        options = super().model_options(config)
        options["pni"] = config.variant.pni or "W"
        return options

    def objective(self, x, y):
        clean_logits = self.net(x, training=True)
        if not self.phase or not self.config.w_adv:  # --w_adv=0: PNI trained without adversarial examples
            return xent(y, clean_logits), clean_logits, None
        predicted = tf.stop_gradient(tf.argmax(clean_logits, axis=-1, output_type=tf.int32))
        x_adv = self.pgd(x, predicted, noise=self.config.pni_attack_noise)
        adv_logits = self.net(x_adv, training=True)
        loss = self.config.w_clean * xent(y, clean_logits) + self.config.w_adv * xent(y, adv_logits)
        return loss, clean_logits, adv_logits
