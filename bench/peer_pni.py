"""The official PNI code's training step, as the same-run peer of ``bench/train_step.py`` (a worker process).

Not part of the project: it runs under the PyTorch environment that ``make bench-peers`` creates
(``.venv-peers``, torch 2.13.0 CPU) and imports the official code of Parametric Noise Injection
(He, Rakin, Fan, CVPR 2019; elliothe/CVPR_2019_PNI at 031e24f, Apache-2.0) unchanged from
``../shared/peers/CVPR_2019_PNI/code``: its ``noise_resnet20`` (layerwise weight noise, alpha 0.25),
``vanilla_resnet20``, ``Normalize_layer`` and ``Attack.pgd``. Only the loop around them is written
here, following that code's ``main.py`` ``train()`` and ``train_cifar.sh``:

* ``pni``: clean forward pass; PGD-7 (eps 0.031, step 0.01, random start) by ``Attack.pgd`` on a
  deep copy of the model (the attack puts the copy in eval mode) against the model's own prediction;
  loss 0.5 L(x) + 0.5 L(x_adv); SGD lr 0.1, momentum 0.9, Nesterov, weight decay 3e-4 except on alpha.
* ``vanilla``: the clean step of the same network without noise (``vanilla_resnet20``), same optimizer.

Both take the normalisation layer in front, as ``main.py`` does for adversarial runs. Protocol: one
JSON request per line on stdin, ``{"method": "pni", "steps": 3}``; one JSON answer per line on stdout
with the seconds of each step. The first request for a method also runs one untimed warm-up step.
"""
import contextlib
import copy
import json
import os
import sys
import time

PEER_DIR = os.environ.get("PNI_PEER_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                        "shared", "peers", "CVPR_2019_PNI", "code"))
BATCH = 128
MEAN = [x / 255 for x in (125.3, 123.0, 113.9)]  # main.py's CIFAR-10 normalisation
STD = [x / 255 for x in (63.0, 62.1, 66.7)]


def _load_official():
    if not os.path.isdir(PEER_DIR):
        sys.exit(f"peer_pni: the official PNI code is not at {PEER_DIR!r}; set PNI_PEER_DIR to its code/ directory")
    sys.path.insert(0, os.path.abspath(PEER_DIR))
    import warnings
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # the official code compares strings with `is`
    with contextlib.redirect_stdout(sys.stderr):  # its model constructors print; stdout carries the protocol
        import models
    from models.attack_model import Attack
    from models.nomarlization_layer import Normalize_layer
    return models, Attack, Normalize_layer


class Step:
    """One method's network, optimizer and fixed batch; ``run(n)`` times n training steps."""

    def __init__(self, method, torch, official):
        models, Attack, Normalize_layer = official
        self.torch, self.method = torch, method
        torch.manual_seed(0)
        arch = models.noise_resnet20 if method == "pni" else models.vanilla_resnet20
        with contextlib.redirect_stdout(sys.stderr):
            self.net = torch.nn.Sequential(Normalize_layer(MEAN, STD), arch(10))
        params = [p for n, p in self.net.named_parameters() if "alpha_" not in n and p.requires_grad]
        alphas = [p for n, p in self.net.named_parameters() if "alpha_" in n]
        self.optimizer = torch.optim.SGD([{"params": params}, {"params": alphas, "weight_decay": 0}],
                                         lr=0.1, momentum=0.9, weight_decay=3e-4, nesterov=True)
        self.attacker = Attack(dataloader=None, attack_method="pgd", epsilon=0.031)
        self.criterion = torch.nn.CrossEntropyLoss()
        self.x = torch.rand(BATCH, 3, 32, 32)
        self.y = torch.randint(0, 10, (BATCH,))
        self.net.train()
        self.step()  # warm-up

    def step(self):
        self.net.train()
        output = self.net(self.x)
        loss = self.criterion(output, self.y)
        if self.method == "pni":
            prediction = output.max(1, keepdim=True)[1].squeeze(-1)
            x_adv = self.attacker.pgd(copy.deepcopy(self.net), self.x, prediction)
            loss = 0.5 * loss + 0.5 * self.criterion(self.net(x_adv), self.y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def run(self, steps):
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            self.step()
            times.append(time.perf_counter() - start)
        return times


def main():
    import torch
    official = _load_official()
    steps = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "peer": "elliothe/CVPR_2019_PNI@031e24f"}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        method = request["method"]
        if method not in ("pni", "vanilla"):
            print(json.dumps({"error": f"unknown method {method!r}; expected 'pni' or 'vanilla'"}), flush=True)
            continue
        if method not in steps:
            steps[method] = Step(method, torch, official)
        print(json.dumps({"method": method, "step_s": steps[method].run(int(request["steps"]))}), flush=True)


if __name__ == "__main__":
    main()
