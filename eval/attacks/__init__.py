"""Attacks by name: ``run_attack("pgd", model_fn, x, y, steps=20) -> x_adv``.

``ATTACKS`` maps each name to an ``AttackSpec`` (defaults from the paper section in ``spec.paper``).
CleverHans 4.0.0 provides fgsm, bim, pgd, pgd_l2, mifgsm, cw_l2 and spsa (``cleverhans_attacks``);
``own`` adds step_ll, pgd_fast, partial_adaptive (+ _unlimited, _pgd) and transfer, plus ``majority_vote``
(a defense). ``fab`` adds FAB-T (Croce & Hein 2020, minimal perturbation, targeted; L-inf and L2).
``early_exit`` adds pgd_exit (PGD whose fooled examples leave the batch). ``apgd`` adds APGD-CE, APGD-DLR and APGD-T (Croce & Hein 2020) and ``square`` the Square
Attack (Andriushchenko et al. 2020), L-inf and L2 (``_l2``), the attacks of the ``autoattack`` suite.
``EOTModel`` (``eot``) carries EOT for random models: the mean of per-draw loss gradients by default.
"""
from eval.attacks import apgd, cleverhans_attacks, early_exit, fab, own, square  # noqa: F401  (registration)
from eval.attacks.eot import EOT_MODES, EOTModel
from eval.attacks.own import majority_vote
from eval.attacks.registry import ATTACKS, AttackSpec, get, list_attacks, register, run_attack

__all__ = ["ATTACKS", "EOT_MODES", "EOTModel", "AttackSpec", "get", "list_attacks", "majority_vote", "register",
           "run_attack"]
