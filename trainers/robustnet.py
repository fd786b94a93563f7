"""RobustNet (Liu et al. 2018, random self-ensemble) and "RobustNet Adv." (perturbation study sec. 3.7).

Fixed Gaussian noise layers before every convolution: sigma_init (0.2 for CIFAR-10) before the
first, sigma_inner (0.1) before the rest, active in training and inference. With ``--adversarial``
the model is also trained with PGD-7 (Madry et al.), the study's proposed RobustNet Adv.
"""
from trainers.base import AdversarialTrainer, register


@register("robustnet")
class RobustNetTrainer(AdversarialTrainer):

    @classmethod
    def model_options(cls, config):
        return {**super().model_options(config), "robustnet": True}

    def phase_for_epoch(self, epoch):
        return self.config.adversarial and epoch >= self.config.adv_start_epoch


if __name__ == "__main__":
    from trainers.run import cli
    cli("robustnet")
