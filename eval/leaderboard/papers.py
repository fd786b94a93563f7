"""The papers' own numbers for the zoo's models, shown beside ours as ``ours (paper)``.

Only numbers a paper states for a comparable setting (ResNet-20, CIFAR-10, L-inf eps 8/255) are given,
each with its source; every other cell stays empty. Accuracies are in % as printed in the paper (std
where the paper gives one). ``setting`` names where the paper's protocol differs from the board's:
PNI's PGD is PGD-7 (sec. 4.1: "Nstep is set to 40 and 7", CIFAR-10 = 7; step 2/255, Madry et al.), so it
sits in the first PGD column with that note; no paper here reports PGD-100 for these models.

Not given, and why (``MISSING``): the perturbation study (Dziedzic & Krishnan) shows RobustNet,
RobustNet Adv. and PNI-W Adv. on ResNet-20 only as curves (Fig. 4: figures are lost in the text and
give no table), ParamNet only for VGG-16 (Fig. 5), and its input channels (Table 1: FC 30%, CD 4 bit,
SVD 50%, Gauss/Laplace 0.03, Uniform 0.04) on ResNet-18 against an adaptive C&W attack (its extracted table has
5 columns for 6 channels, so even the clean accuracies are ambiguous); ANP reports
VGG-16, ResNet-18, LeNet and AlexNet only (Tables 3-11), so none of its numbers is comparable to a ResNet-20.
"""

PNI = "He, Rakin & Fan 2019 (PNI)"

# metric keys: clean, fgsm, pgd (the board's first PGD column), cw_acc, cw_l2, mCE, relative_mCE, mFR, W_f.
# value: (mean, std or None); "off": the same for the noise-off row (PNI Table 2 "Test without PNI").
PAPER = {
    "vanilla_resnet20": {
        "source": f"{PNI}, Table 3 (Net20, No defense)",
        "setting": "PGD-7",
        "on": {"clean": (92.1, None), "pgd": (0.0, 0.0), "fgsm": (14.1, None)},
    },
    "pat_resnet20": {
        "source": f"{PNI}, Table 2 (Vanilla adv. train, ResNet-20)",
        "setting": "PGD-7",
        "on": {"clean": (83.84, None), "pgd": (39.14, 0.05), "fgsm": (46.55, None)},
    },
    "pni_w_resnet20": {
        "source": f"{PNI}, Table 2 (PNI-W; test with / without PNI)",
        "setting": "PGD-7; mean±std over 5 trials",
        "on": {"clean": (84.89, 0.11), "pgd": (45.94, 0.11), "fgsm": (54.48, 0.44)},
        "off": {"clean": (85.48, None), "pgd": (31.45, 0.07), "fgsm": (42.55, None)},
    },
    "pni_w_noadv_resnet20": {
        "source": f"{PNI}, Table 1 (PNI-W, Vanilla Training column)",
        "setting": "PGD-7",
        "on": {"clean": (92.11, None), "pgd": (0.0, 0.0), "fgsm": (14.08, None)},
    },
}

MISSING = {
    "robustnet_resnet20": "Study Fig. 4 (ResNet-20): curves only, no table",
    "robustnet_adv_resnet20": "Study Fig. 4 (ResNet-20): curves only, no table",
    "paramnet_resnet20": "Study Fig. 5: VGG-16 only",
    "anp_resnet20": "ANP Tables 3-11: VGG-16 / ResNet-18 / LeNet / AlexNet only",
    "fc30_resnet20": "Study Table 1: ResNet-18 (adaptive C&W, 2000 images), not ResNet-20",
    "cd4_resnet20": "Study Table 1: ResNet-18 (adaptive C&W, 2000 images), not ResNet-20",
    "svd50_resnet20": "Study Table 1: ResNet-18 (adaptive C&W, 2000 images), not ResNet-20",
    "gauss003_resnet20": "Study Table 1: ResNet-18 (adaptive C&W, 2000 images), not ResNet-20",
    "laplace003_resnet20": "Study Table 1: ResNet-18 (adaptive C&W, 2000 images), not ResNet-20",
    "uniform004_resnet20": "Study Table 1: ResNet-18 (adaptive C&W, 2000 images), not ResNet-20",
}


def paper_value(name, noise, metric):
    """(mean, std or None) the paper gives for ``name``'s row (noise ``on``/``off``) and ``metric``, else None."""
    return PAPER.get(name, {}).get(noise, {}).get(metric)
