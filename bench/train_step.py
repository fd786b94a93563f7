"""Throughput of one training step, ResNet-20, batch 128, CIFAR-shaped input, with the official PNI code
as the same-run peer (prints JSON lines, then a summary).

    make bench-peers                 # once: .venv-peers with torch 2.13.0 CPU (not a project dependency)
    python -m bench.train_step [--rounds=3] [--steps=2] [--methods=vanilla,pni] [--jit=off] [--peer=auto]

Methods: vanilla (clean step), pgd (PGD-7 adversarial training), pni (PNI-W + PGD-7: eq. 11, noise on in
the attack, batch norm in inference mode while crafting, as configs/zoo/pni_w_resnet20.cfg), anp (ANP
Algorithm 1, k = 3, top-4 registers). Each (method, XLA on/off) is built and traced once; then, for
``--rounds`` rounds, this project's step runs ``--steps`` timed steps and the peer the same number of
its own (vanilla and pni only), alternating, so both see the same machine state. The peer is
``bench/peer_pni.py``, the official PNI code (../shared/peers/CVPR_2019_PNI) in a PyTorch worker process
(``--peer=auto`` uses .venv-peers/bin/python when it exists; ``--peer=none`` skips it). Ratios are
medians over all rounds. Performance targets (issue 11) live here, never in a test; docs/PERFORMANCE.md
quotes the numbers: PNI-W + PGD-7 >= 1.5x the official code, clean step >= PyTorch's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment: oneDNN on, logs quiet)

BATCH = 128
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_VENV_PYTHON = os.path.join(ROOT, ".venv-peers", "bin", "python")
PEER_METHODS = ("vanilla", "pni")


def build_step(method, jit, batch=BATCH, keras_bn=False):
    """A zero-argument function running one training step of ``method``, already traced; and the trace time.
    ``keras_bn``: Keras 3's BatchNormalization instead of the zoo's FusedBatchNorm (the 'before')."""
    import keras
    import numpy as np
    import tensorflow as tf

    import trainers.methods  # noqa: F401  (registers the methods)
    from trainers.base import TRAINERS
    from trainers.config import AnpPhase, TrainConfig
    import zoo
    from zoo.layers import FusedBatchNorm
    from zoo.models import builder

    builder.FusedBatchNorm = keras.layers.BatchNormalization if keras_bn else FusedBatchNorm
    keras.utils.set_random_seed(0)
    pni = method == "pni"
    config = TrainConfig.from_flat(method=method, model="resnet20", dataset="cifar10", eps=8 / 255, step_size=0.01,
                                   steps=7, attack_bn="eval", anp_layers=4 if method == "anp" else 0,
                                   anp_clean_epochs=0, anp_phases=(AnpPhase(1.0, 1.0, 3, 1),),
                                   weight_decay=3e-4 if pni else 5e-4, jit_compile=jit, nesterov=True)
    cls = TRAINERS[method]
    net = zoo.create("resnet20", num_classes=10, input_shape=(32, 32, 3), **cls.model_options(config))
    trainer = cls(net, config)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), jit_compile=jit)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(batch, 32, 32, 3)).astype("float32"))
    y = tf.constant(rng.integers(0, 10, size=batch).astype("int32"))

    def step():
        float(trainer.train_on_batch(x, y, return_dict=True)["loss"])

    start = time.perf_counter()
    step()
    return step, time.perf_counter() - start


class Peer:
    """The official PNI code in a PyTorch worker (bench/peer_pni.py), one JSON request/answer per line."""

    def __init__(self, python):
        script = os.path.join(ROOT, "bench", "peer_pni.py")
        self.proc = subprocess.Popen([python, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "OMP_NUM_THREADS": str(os.cpu_count())})
        self.info = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the PyTorch peer exited with status {self.proc.wait()} (see its stderr above)")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def run(self, method, steps):
        self.proc.stdin.write(json.dumps({"method": method, "steps": steps}) + "\n")
        self.proc.stdin.flush()
        return self._read()["step_s"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def find_peer_python(choice):
    if choice == "none":
        return None
    if choice == "auto":
        return PEER_VENV_PYTHON if os.path.exists(PEER_VENV_PYTHON) else None
    if not os.path.exists(choice):
        sys.exit(f"--peer={choice}: no such Python; expected auto, none or the path of a Python with torch "
                 f"(`make bench-peers` creates {PEER_VENV_PYTHON})")
    return choice


def rate(times, batch=BATCH):
    return round(batch / statistics.median(times), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round and side")
    parser.add_argument("--methods", default="vanilla,pni")
    parser.add_argument("--jit", choices=["both", "on", "off"], default="off")
    parser.add_argument("--peer", default="auto", help="auto | none | path of a Python with torch")
    parser.add_argument("--keras_bn", action="store_true", help="Keras 3's BatchNormalization (the 'before')")
    parser.add_argument("--inter_op", type=int, default=0, help="TF inter-op threads (0: TF's default)")
    args = parser.parse_args()
    import tensorflow as tf

    from zoo.machine import cpu_model
    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    peer_python = find_peer_python(args.peer)
    peer = Peer(peer_python) if peer_python else None
    jits = {"both": (False, True), "on": (True,), "off": (False,)}[args.jit]
    results = []
    try:
        for method in args.methods.split(","):
            for jit in jits:
                step, trace_s = build_step(method, jit, keras_bn=args.keras_bn)
                ours, theirs = [], []
                for _ in range(args.rounds):
                    for _ in range(args.steps):
                        start = time.perf_counter()
                        step()
                        ours.append(time.perf_counter() - start)
                    if peer and method in PEER_METHODS:
                        theirs += peer.run(method, args.steps)
                row = {"method": method, "jit_compile": jit, "images_per_s": rate(ours),
                       "step_s": [round(t, 3) for t in ours], "first_step_s": round(trace_s, 1)}
                if theirs:
                    row.update(peer_images_per_s=rate(theirs), peer_step_s=[round(t, 3) for t in theirs],
                               ratio=round(rate(ours) / rate(theirs), 2))
                results.append(row)
                print(json.dumps(row), flush=True)
    finally:
        if peer:
            peer.close()
    print(json.dumps({"benchmark": "train_step", "cpu": cpu_model(), "cpus": os.cpu_count(), "model": "resnet20",
                      "batch": BATCH, "tensorflow": tf.__version__,
                      "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                      "batch_norm": "keras" if args.keras_bn else "fused",
                      "peer": peer.info if peer else None, "results": results}, indent=1))


if __name__ == "__main__":
    main()
