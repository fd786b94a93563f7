"""PyTorch peer of the PNI-W + PGD-7 training step, for bench/train_step.py (prints JSON).

An independent PyTorch implementation of the algorithm of the official PNI code (elliothe/CVPR_2019_PNI),
written from the paper and that code's published description, not copied: CIFAR ResNet-20 with
layerwise weight noise w + alpha * N(0, std(w)^2) in every conv and the classifier, a non-trainable
normalisation layer, PGD-7 (eps 8/255, step 2/255, random start) against the model's own prediction
on a deep copy in train mode, loss 0.5 * L(x) + 0.5 * L(x_adv), SGD Nesterov momentum 0.9 with
weight decay 3e-4 except on alpha. Run it with a Python that has torch (it is not a project
dependency): ``python bench/torch_pni_step.py --steps 4``.
"""
import argparse
import copy
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class NoisyConv(nn.Conv2d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha_w = nn.Parameter(torch.tensor(0.25))

    def forward(self, x):
        with torch.no_grad():
            eta = torch.randn_like(self.weight) * self.weight.std()
        return F.conv2d(x, self.weight + self.alpha_w * eta, self.bias, self.stride, self.padding)


class NoisyLinear(nn.Linear):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha_w = nn.Parameter(torch.tensor(0.25))

    def forward(self, x):
        with torch.no_grad():
            eta = torch.randn_like(self.weight) * self.weight.std()
        return F.linear(x, self.weight + self.alpha_w * eta, self.bias)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = NoisyConv(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = NoisyConv(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x
        if self.stride != 1 or self.pad:
            s = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1))
        self.conv, self.bn = NoisyConv(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout in (16, 32, 64):
            for i in range(3):
                layers.append(Block(cin, cout, 2 if cout != 16 and i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = NoisyLinear(64, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def pgd(model, x, y, eps=8 / 255, step=2 / 255, steps=7):
    x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y)
        grad, = torch.autograd.grad(loss, x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + step * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = ResNet20().train()
    alphas = [p for n, p in model.named_parameters() if "alpha_" in n]
    others = [p for n, p in model.named_parameters() if "alpha_" not in n]
    opt = torch.optim.SGD([{"params": others}, {"params": alphas, "weight_decay": 0}], lr=0.1, momentum=0.9,
                          weight_decay=3e-4, nesterov=True)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(size=(args.batch, 3, 32, 32)).astype("float32"))
    y = torch.tensor(rng.integers(0, 10, size=args.batch))

    def step():
        out = model(x)
        loss = F.cross_entropy(out, y)
        x_adv = pgd(copy.deepcopy(model), x, out.argmax(1).detach())
        loss = 0.5 * loss + 0.5 * F.cross_entropy(model(x_adv), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    print(json.dumps({"method": "pni_pytorch_peer", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "batch": args.batch, "images_per_s": round(args.batch / median, 1),
                      "step_s_median": round(median, 3)}))


if __name__ == "__main__":
    main()
