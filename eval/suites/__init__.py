"""The suites of ``python -m eval``: each runs metrics on the loaded models and fills the report.

| suite | what it measures | paper |
|---|---|---|
| whitebox | clean accuracy; FGSM, PGD-7/20 (L-inf), BIM, MI-FGSM, Step-LL, PGD-L2, C&W-L2 (+ mean L2 distortion); worst case per example over the L-inf attacks at --eps; accuracy vs eps and vs steps; optional majority vote | PNI sec. 4.1, Tables 2-4, Fig. 3; Study D.4 |
| autoattack | standard (APGD-CE, APGD-T, FAB-T, Square) or rand (APGD-CE, APGD-DLR, EOT 20), each on the points still robust; cumulative robust accuracy, worst case (over both suites when whitebox ran first) | Croce & Hein 2020 sec. 5 |
| blackbox | SPSA (gradient-free) | Uesato et al. 2018; PNI sec. 4.2.2 |
| transfer | PGD examples crafted on each model, accuracy of every model on them | PNI sec. 4.2.2; Study Table 1 |
| obfuscation | the five checks of Athalye et al. with their numbers | PNI Table 7 |
| channels | accuracy vs input distortion of six channels, transfer matrix between channel defenses, recovery windows, the partially adaptive attack | Study Fig. 1, Table 1, Fig. 2, sec. 3.4 |
| corruption | CIFAR-10-C generated here (15 + 4 corruptions x 5 severities): errors, CE, mCE, relative mCE against a baseline | ANP Tables 8-9; Hendrycks & Dietterich 2019 |
| perturbation_seq | CIFAR-10-P sequences (12 perturbations, 31 frames): flip probability, FR, mFR against a baseline | ANP Table 10 |
| boundary | worst-case boundary distance W_f over random orthogonal directions | ANP eq. 3, Table 11 |
| insensitivity | epsilon-empirical noise insensitivity (FGSM, PGD, Step-LL, Gaussian, shot noise) and hidden representation insensitivity per ReLU layer | ANP eq. 4, Fig. 4, 8, 9 |
| analysis | M1 = gradient norm and M2 = Hessian lambda_max for natural vs adversarial examples; gradient norms of original / adversarial / random class under Gaussian noise | Study sec. 2.4, 3.8, D.6, Fig. 12-14 |
| saliency | loss-gradient maps (tf-keras-vis) for a grid of images and models | ANP Fig. 5, 10 |

Random models get EOT and mean±std over trials, non-differentiable ones BPDA, automatically
(``eval.metrics.robustness.attack_settings``); the report records what was used. ``noise`` (on, off,
both) chooses whether whitebox, blackbox, transfer and obfuscation evaluate the models as served,
with their noise off (``ServedModel.noise_off()``: predicted and attacked without noise, PNI Table 2
"test without PNI"), or both; suites of the deterministic network (boundary, insensitivity,
analysis) use ``ServedModel.deterministic_mode()``, which keeps BPDA for non-differentiable parts.
"""
# Layout, each module importing only those above it: ``config`` (EvalConfig, defaults), ``context`` (the
# registry, Context, attack parameters), then the suites, registered on import in this order: ``attacks``
# (whitebox, autoattack, blackbox, transfer, obfuscation), ``channels``, ``corruption`` (corruption,
# perturbation_seq), ``analysis`` (boundary, insensitivity, analysis, saliency).
from eval.suites.config import BOUNDARY_SEARCH_LIMIT, EPS, NOISE, STEP, EvalConfig  # noqa: F401
from eval.suites.context import ATTACK_PARAMS, SUITES, Context, _short, pgd_params, suite  # noqa: F401
from eval.suites.attacks import (add_worst_case, autoattack_suite, blackbox, curve_rows,  # noqa: F401
                                 obfuscation_suite, transfer, whitebox)
from eval.suites.channels import channels_suite  # noqa: F401
from eval.suites.corruption import (_add_defined_matrix, _baseline, corruption_suite,  # noqa: F401
                                    perturbation_suite)
from eval.suites.analysis import analysis_suite, boundary_suite, insensitivity_suite, saliency_suite  # noqa: F401
