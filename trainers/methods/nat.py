"""NAT, "new adversarial training" (Kurakin, Goodfellow & Bengio 2017; an ANP baseline).

Step-LL examples whose eps is drawn per example from a normal distribution N(0, nat_eps_std^2)
(8/255) truncated to [0, 2 * nat_eps_std] = [0, 16/255] (absolute value of a two-sigma truncated
normal), trained 1:1 with the clean examples: 0.5 * L(x) + 0.5 * L(x_adv). ANP's implementation
details: "Step-LL on current target model with eps obeyed normal distribution N(0, 8) and truncated
to [0, 16]" (pixel units of 0..255).
"""
import tensorflow as tf

from trainers.base import Trainer, register, xent


@register("nat")
class NATTrainer(Trainer):

    adversarial = True

    def phase_for_epoch(self, epoch):
        return epoch >= self.config.adv_start_epoch

    def sample_eps(self, batch):
        """Per-example eps ~ |N(0, nat_eps_std^2)| truncated to [0, 2 * nat_eps_std], shape [batch, 1, 1, 1]."""
        eps = tf.abs(tf.random.truncated_normal([batch, 1, 1, 1], stddev=self.config.nat_eps_std))
        return eps  # truncated_normal re-draws values beyond 2 std: eps in [0, 2 * std]

    def adversarial_examples(self, x):
        """Step-LL examples on the model being trained, one eps per example (Kurakin et al. 2017)."""
        return self.craft("step_ll", self.attack_fn(), x, self.sample_eps(tf.shape(x)[0]))

    def objective(self, x, y):
        clean_logits = self.net(x, training=True)
        if not self.phase:
            return xent(y, clean_logits), clean_logits, None
        x_adv = self.adversarial_examples(x)
        adv_logits = self.net(x_adv, training=True)
        return 0.5 * xent(y, clean_logits) + 0.5 * xent(y, adv_logits), clean_logits, adv_logits
