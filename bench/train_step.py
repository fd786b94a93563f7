"""Throughput of one training step: ResNet-20, batch 128, CIFAR-shaped input (prints JSON).

    python -m bench.train_step [--steps=5] [--methods=vanilla,pgd,pni,anp] [--jit=both]

Methods: vanilla (clean step), pgd (PGD-7 adversarial training), pni (PNI-W + PGD-7, eq. 11 with the
noise on in the attack), anp (ANP Algorithm 1 with k = 3 on the first 4 hidden layers). Each is
measured with and without XLA (``jit_compile``) after a warm-up step that traces and compiles.
A performance target lives here, never in a test; docs/PERFORMANCE.md quotes the numbers.
"""
import argparse
import json
import os
import platform
import time

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment: oneDNN on, logs quiet)

BATCH = 128


def measure(method, jit, steps, batch=BATCH):
    import keras
    import numpy as np
    import tensorflow as tf

    import trainers.methods  # noqa: F401  (registers the methods)
    from trainers.base import TRAINERS
    from trainers.config import AnpPhase, TrainConfig
    import zoo

    keras.utils.set_random_seed(0)
    kind = {"pgd": "pgd", "pni": "pni", "anp": "anp", "vanilla": "vanilla"}[method]
    config = TrainConfig(method=kind, model="resnet20", dataset="cifar10", eps=8 / 255, step_size=2 / 255, steps=7,
                         anp_layers=4 if kind == "anp" else 0, anp_clean_epochs=0,
                         anp_phases=(AnpPhase(1.0, 1.0, 3, 1),), weight_decay=3e-4 if kind == "pni" else 5e-4,
                         jit_compile=jit, nesterov=kind == "pni")
    cls = TRAINERS[kind]
    net = zoo.create("resnet20", num_classes=10, input_shape=(32, 32, 3), **cls.model_options(config))
    trainer = cls(net, config)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=config.nesterov), jit_compile=jit)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(batch, 32, 32, 3)).astype("float32"))
    y = tf.constant(rng.integers(0, 10, size=batch).astype("int32"))
    start = time.perf_counter()
    trainer.train_on_batch(x, y)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs = trainer.train_on_batch(x, y, return_dict=True)
        float(logs["loss"])
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return {"method": method, "jit_compile": jit, "batch": batch, "steps_timed": steps,
            "images_per_s": round(batch / median, 1), "step_s_median": round(median, 3),
            "compile_s": round(compile_s, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--methods", default="vanilla,pgd,pni,anp")
    parser.add_argument("--jit", choices=["both", "on", "off"], default="both")
    parser.add_argument("--inter_op", type=int, default=0, help="TF inter-op threads (0: TF's default)")
    parser.add_argument("--torch_python", default=None,
                        help="a Python with torch: also run bench/torch_pni_step.py (the PyTorch peer) in this run")
    args = parser.parse_args()
    jits = {"both": (False, True), "on": (True,), "off": (False,)}[args.jit]
    import tensorflow as tf
    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    results = []
    for method in args.methods.split(","):
        for jit in jits:
            results.append(measure(method, jit, args.steps))
            print(json.dumps(results[-1]), flush=True)
    peer = None
    if args.torch_python:
        import subprocess
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_pni_step.py")
        out = subprocess.run([args.torch_python, script, "--steps", str(args.steps)], capture_output=True, text=True,
                             check=True).stdout
        peer = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(peer), flush=True)
        pni = max((r["images_per_s"] for r in results if r["method"] == "pni"), default=None)
        if pni:
            peer["pni_speedup_vs_peer"] = round(pni / peer["images_per_s"], 2)
    print(json.dumps({"benchmark": "train_step", "pytorch_peer": peer, "model": "resnet20", "batch": BATCH, "tensorflow": tf.__version__,
                      "cpus": os.cpu_count(), "machine": platform.machine(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
