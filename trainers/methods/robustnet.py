"""RobustNet (Liu et al. 2018, random self-ensemble) and "RobustNet Adv." (perturbation study sec. 3.7).

Fixed Gaussian noise layers before every convolution: sigma_init (0.2 for CIFAR-10) before the
first, sigma_inner (0.1) before the rest, active in training and inference. With ``--adversarial``
the model is also trained with PGD-7 (Madry et al.; eps 8/255, step 0.01), the study's proposed
RobustNet Adv., for which the study keeps "the same sigma = 0.1 for all the noisy layers" on CIFAR-10
(``configs/robustnet_adv_resnet20_cifar10.cfg`` sets ``--sigma_init=0.1``). The noise stays on while
x_adv is crafted.
"""
from trainers.base import AdversarialTrainer, register


@register("robustnet")
class RobustNetTrainer(AdversarialTrainer):

    @classmethod
    def model_options(cls, config):
        return {**super().model_options(config), "robustnet": True}

    def phase_for_epoch(self, epoch):
        return self.config.adversarial and epoch >= self.config.adv_start_epoch
