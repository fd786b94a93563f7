"""torchattacks 3.5.1 on a PyTorch twin of a zoo CIFAR ResNet, the same-run peer of ``bench/autoattack.py`` (a worker).

Not part of the project and imports none of it: it runs under the PyTorch environment that
``make bench-attack-peers`` creates (``.venv-peers``: torch 2.13.0 CPU, torchattacks 3.5.1). The twin is
He et al.'s CIFAR ResNet-(6n+2) as ``zoo/models/resnet.py`` builds it, written again here in PyTorch:

* images in [0,1], NCHW (the caller's NHWC transposed), then the model's own normalisation (x - mean) / std;
* 3x3 convs without bias and TensorFlow's ``padding="same"``: the total padding max((ceil(n/s) - 1) s + k - n, 0)
  split with the smaller half before, so a stride-2 3x3 conv on 32 pixels pads only right and bottom;
* batch norm in inference form with the moving statistics, epsilon 1e-5 (``zoo.layers.FusedBatchNorm``);
* option-A shortcuts when the shape changes: subsample [::s, ::s] and zero channels, extra // 2 before the
  input's channels and the rest after (``zoo.layers.PadShortcut``);
* global average pooling and one dense layer (TensorFlow's [in, out] kernel transposed).

Its weights are the variables of the model's ``serve_deterministic`` signature (noise off), by name
(``conv0/kernel``, ``stage2_block0_conv1_bn/moving_mean``, ``fc/bias``...), in an .npz. Before attacking, the twin's
logits on the request's check images are compared with TensorFlow's; a difference of ``max_logit_diff`` (1e-3) or
more ends the worker with exit code 3 and that number on stderr.

Protocol: one JSON request on stdin, ``{"weights": npz, "data": npz, "mean": [...], "std": [...], "eps": 0.0314,
"version": "standard", "n_iter": 100, "square_queries": 5000, "eot_iter": 20, "batch": 128, "threads": 2,
"seed": 0, "runs": ["autoattack", "autoattack_protocol", "apgd_ce"]}``; one JSON answer on stdout (progress on stderr).
The data .npz holds ``x`` (NHWC float32 in [0,1]), ``y`` (int), ``check_x`` and ``check_logits`` (TensorFlow's).
Runs, each over all images in batches of ``batch``, with wall time, images/s and robust accuracy:

* ``autoattack``: ``torchattacks.AutoAttack(model, norm="Linf", eps, version, n_classes=10, seed)`` as shipped
  (3.5.1 leaves APGD, APGD-T and FAB at their default of 10 steps; ``rand``: APGD-CE + APGD-DLR with EOT 20);
* ``autoattack_protocol``: ``torchattacks.MultiAttack`` over the same attacks built with the protocol's budget
  (``n_iter`` steps, ``square_queries`` queries; ``rand``: ``eot_iter`` draws);
* ``apgd_ce``: ``torchattacks.APGD(loss="ce", steps=n_iter, n_restarts=1)`` alone (``rand``: with
  ``eot_iter=eot_iter``, as this project's APGD-CE part is run).
The robust accuracy after each attack of a MultiAttack comes from its own per-attack records (the counts that
``MultiAttack.save`` reports).
"""
import json
import math
import sys
import time

STAGES = {"standard": ["apgd_ce", "apgd_t", "fab_t", "square"], "rand": ["apgd_ce", "apgd_dlr"]}


def log(message):
    print(f"peer_torchattacks: {message}", file=sys.stderr, flush=True)


def build_twin(torch, weights, mean, std):
    """The CIFAR ResNet of ``weights`` (name -> array) as a ``torch.nn.Module`` taking NCHW images in [0,1]."""
    nn, F = torch.nn, torch.nn.functional

    def tensor(name):
        if name not in weights:
            raise KeyError(f"weight {name!r} missing from the .npz (it has {len(weights)}: {sorted(weights)[:4]}...)")
        return torch.from_numpy(weights[name].astype("float32"))

    class SameConv(nn.Module):
        """A bias-free conv with TensorFlow's 'same' padding (asymmetric: the extra pixel goes right/bottom)."""

        def __init__(self, name, stride):
            super().__init__()
            kernel = tensor(f"{name}/kernel")  # HWIO
            self.k, self.stride = int(kernel.shape[0]), stride
            self.conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], self.k, stride=stride, padding=0, bias=False)
            self.conv.weight.data.copy_(kernel.permute(3, 2, 0, 1))

        def forward(self, x):
            pads = []
            for size in (x.shape[3], x.shape[2]):  # F.pad order: width (left, right), then height (top, bottom)
                total = max((math.ceil(size / self.stride) - 1) * self.stride + self.k - size, 0)
                pads += [total // 2, total - total // 2]
            return self.conv(F.pad(x, pads))

    def batch_norm(name):
        gamma = tensor(f"{name}/gamma")
        bn = nn.BatchNorm2d(gamma.shape[0], eps=1e-5)
        bn.weight.data.copy_(gamma)
        bn.bias.data.copy_(tensor(f"{name}/beta"))
        bn.running_mean.copy_(tensor(f"{name}/moving_mean"))
        bn.running_var.copy_(tensor(f"{name}/moving_variance"))
        return bn

    class Block(nn.Module):
        def __init__(self, name, stride):
            super().__init__()
            self.conv1, self.bn1 = SameConv(f"{name}_conv1", stride), batch_norm(f"{name}_conv1_bn")
            self.conv2, self.bn2 = SameConv(f"{name}_conv2", 1), batch_norm(f"{name}_conv2_bn")
            self.stride = stride
            self.filters = int(self.conv2.conv.weight.shape[0])

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            shortcut = x
            if self.stride != 1 or x.shape[1] != self.filters:  # option A (PadShortcut)
                shortcut = x[:, :, ::self.stride, ::self.stride]
                extra = self.filters - x.shape[1]
                shortcut = F.pad(shortcut, [0, 0, 0, 0, extra // 2, extra - extra // 2])
            return F.relu(y + shortcut)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
            self.conv0, self.bn0 = SameConv("conv0", 1), batch_norm("conv0_bn")
            blocks = []
            for stage in (1, 2, 3):
                n = sum(1 for k in weights if k.startswith(f"stage{stage}_block") and k.endswith("_conv1/kernel"))
                if n == 0:
                    raise KeyError(f"no stage{stage}_block*_conv1/kernel in the .npz: not a zoo CIFAR ResNet")
                blocks += [Block(f"stage{stage}_block{b}", 2 if stage > 1 and b == 0 else 1) for b in range(n)]
            self.blocks = nn.Sequential(*blocks)
            kernel = tensor("fc/kernel")
            self.fc = nn.Linear(kernel.shape[0], kernel.shape[1])
            self.fc.weight.data.copy_(kernel.t())
            self.fc.bias.data.copy_(tensor("fc/bias"))

        def forward(self, x):
            x = (x - self.mean) / self.std
            x = F.relu(self.bn0(self.conv0(x)))
            x = self.blocks(x)
            return self.fc(x.mean(dim=(2, 3)))

    return Twin().eval()


def nchw(torch, x):
    return torch.from_numpy(x.astype("float32")).permute(0, 3, 1, 2).contiguous()


def make_attack(torchattacks, run, model, req):
    eps, seed, n = req["eps"], req["seed"], req["n_iter"]
    if run == "autoattack":
        return torchattacks.AutoAttack(model, norm="Linf", eps=eps, version=req["version"], n_classes=10, seed=seed)
    if run == "apgd_ce":  # ``rand``: with EOT, the same budget as this project's APGD-CE part (ours_apgd_ce)
        eot = {"eot_iter": req["eot_iter"]} if req["version"] == "rand" else {}
        return torchattacks.APGD(model, norm="Linf", eps=eps, steps=n, n_restarts=1, seed=seed, loss="ce", **eot)
    if run == "autoattack_protocol":
        if req["version"] == "rand":
            eot = req["eot_iter"]
            return torchattacks.MultiAttack([
                torchattacks.APGD(model, norm="Linf", eps=eps, steps=n, n_restarts=1, seed=seed, loss="ce",
                                  eot_iter=eot),
                torchattacks.APGD(model, norm="Linf", eps=eps, steps=n, n_restarts=1, seed=seed, loss="dlr",
                                  eot_iter=eot)])
        return torchattacks.MultiAttack([
            torchattacks.APGD(model, norm="Linf", eps=eps, steps=n, n_restarts=1, seed=seed, loss="ce"),
            torchattacks.APGDT(model, norm="Linf", eps=eps, steps=n, n_restarts=1, seed=seed, n_classes=10),
            torchattacks.FAB(model, norm="Linf", eps=eps, steps=n, n_restarts=1, seed=seed, multi_targeted=True,
                             n_classes=10),
            torchattacks.Square(model, norm="Linf", eps=eps, n_queries=req["square_queries"], n_restarts=1,
                                seed=seed)])
    raise ValueError(f"unknown run {run!r}: expected autoattack, autoattack_protocol or apgd_ce")


def budget(torchattacks, attack):
    """The steps / queries / EOT draws of each attack inside ``attack`` (what actually runs)."""
    multi = getattr(attack, "_autoattack", attack)
    parts = multi.attacks if isinstance(multi, torchattacks.MultiAttack) else [multi]
    out = []
    for a in parts:
        item = {"attack": type(a).__name__}
        for key in ("steps", "n_queries", "eot_iter", "n_restarts", "loss"):
            if hasattr(a, key):
                item[key] = getattr(a, key)
        out.append(item)
    return multi, out


def run_one(torch, torchattacks, run, model, x, y, req):
    torch.manual_seed(req["seed"])
    attack = make_attack(torchattacks, run, model, req)
    multi, parts = budget(torchattacks, attack)
    records = isinstance(multi, torchattacks.MultiAttack)
    if records:  # the per-attack counts, as MultiAttack.save collects them
        multi._clear_multi_atk_records()
        multi._multi_atk_records += [0.0] * len(multi.attacks)
        multi._accumulate_multi_atk_records = True
    correct, max_pert = 0, 0.0
    start = time.perf_counter()
    for i in range(0, len(x), req["batch"]):
        xb, yb = nchw(torch, x[i:i + req["batch"]]), torch.from_numpy(y[i:i + req["batch"]].astype("int64"))
        adv = attack(xb, yb).detach()
        with torch.no_grad():
            correct += int((model(adv).argmax(1) == yb).sum())
        max_pert = max(max_pert, float((adv - xb).abs().max()))
        log(f"{run}: {min(i + req['batch'], len(x))}/{len(x)} images, {time.perf_counter() - start:.1f} s")
    seconds = time.perf_counter() - start
    out = {"seconds": round(seconds, 2), "images_per_s": round(len(x) / seconds, 2),
           "robust_accuracy": round(correct / len(x), 4), "max_perturbation": round(max_pert, 6), "attacks": parts}
    if records:
        counts = multi._multi_atk_records
        names = STAGES[req["version"]] if len(counts) - 1 == len(STAGES[req["version"]]) else [
            p["attack"] for p in parts]
        out["robust_accuracy_after"] = {name: round(c / counts[0], 4) for name, c in zip(names, counts[1:])}
        multi._accumulate_multi_atk_records = False
    if max_pert > req["eps"] + 1e-5:
        out["error"] = f"perturbation {max_pert:.6f} exceeds eps {req['eps']:.6f}"
    return out


def main():
    request = json.loads(sys.stdin.readline())
    import numpy as np
    import torch
    import torchattacks
    torch.set_num_threads(int(request.get("threads", 2)))
    weights = dict(np.load(request["weights"]))
    data = np.load(request["data"])
    model = build_twin(torch, weights, request["mean"], request["std"])
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        logits = model(nchw(torch, data["check_x"])).numpy()
    diff = float(np.max(np.abs(logits - data["check_logits"])))
    limit = float(request.get("max_logit_diff", 1e-3))
    result = {"torch": torch.__version__, "torchattacks": torchattacks.__version__,
              "threads": torch.get_num_threads(), "twin_check_images": len(data["check_x"]),
              "twin_max_abs_logit_diff": diff}
    log(f"twin max |logits_torch - logits_tf| = {diff:.3g} on {len(data['check_x'])} images")
    if not diff < limit:
        print(json.dumps({**result, "error": f"twin check failed: max |logits_torch - logits_tf| = {diff:.3g} "
                                             f">= {limit:g}"}), flush=True)
        log(f"FAILED: the PyTorch twin does not match the TensorFlow model (max logit difference {diff:.3g} >= "
            f"{limit:g})")
        sys.exit(3)
    x, y = data["x"], data["y"]
    with torch.no_grad():
        pred = np.concatenate([model(nchw(torch, x[i:i + 256])).argmax(1).numpy() for i in range(0, len(x), 256)])
    result["clean_accuracy"] = round(float(np.mean(pred == y)), 4)
    for run in request["runs"]:
        log(f"{run} on {len(x)} images")
        result[run] = run_one(torch, torchattacks, run, model, x, y, request)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
