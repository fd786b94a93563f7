"""Where a training step's time goes: the TensorFlow profiler's op times, grouped (prints JSON).

    python -m bench.profile_step [--method=pni] [--steps=3] [--batch=128] [--keras_bn]

Traces ``--steps`` steps of ``bench.train_step``'s step with ``tf.profiler`` (after a warm-up step), reads
the XPlane it writes (the trace viewer's data, ``--logdir`` keeps it for TensorBoard's profile plugin) and
sums the executed TensorFlow ops' time by group: convolutions (forward, input gradient, filter
gradient), batch norm, noise sampling, the residual shortcut, the rest. Shares are of the summed op
time on the compute threads. ``--keras_bn`` builds the model with Keras 3's ``BatchNormalization``
instead of the zoo's ``FusedBatchNorm``: the before/after docs/PERFORMANCE.md quotes.
"""
import argparse
import collections
import glob
import json
import os
import re
import tempfile
import time

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment: oneDNN on, logs quiet)


def group(op_name, op_type):
    if "Conv2D" in op_type:
        return "conv_filter_grad" if "BackpropFilter" in op_type else \
            "conv_input_grad" if "BackpropInput" in op_type else "conv_forward"
    if "BatchNorm" in op_type or re.search(r"_bn(_\d+)?/", op_name):  # Keras names repeated calls' scopes x_1
        return "batch_norm"
    if "Random" in op_type:
        return "noise_sampling"
    if "shortcut" in op_name:
        return "shortcut"
    return "other"


def op_times(logdir):
    """{(op name, op type): picoseconds} over the compute threads (TF ops are named ``name:type``; the
    executor's enclosing ``ExecutorState::Process`` events are left out), and the steps' summed wall time."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    plane = next(p for p in space.planes if p.name == "/host:CPU")
    names = plane.event_metadata
    times, wall = collections.Counter(), 0
    for line in plane.lines:
        for event in line.events:
            name = names[event.metadata_id].name
            if line.name == "python" and name == "one_step_on_data":
                wall += event.duration_ps
            elif line.name.startswith("tf_Compute") and ":" in name and not name.startswith("ExecutorState"):
                times[tuple(name.rsplit(":", 1))] += event.duration_ps
    return times, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="pni")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--keras_bn", action="store_true", help="Keras 3's BatchNormalization (the 'before')")
    parser.add_argument("--logdir", default=None, help="keep the trace here (default: a temporary directory)")
    args = parser.parse_args()
    import tensorflow as tf

    from bench.train_step import build_step
    from zoo.machine import cpu_model
    step, _ = build_step(args.method, False, batch=args.batch, keras_bn=args.keras_bn)
    step()
    logdir = args.logdir or tempfile.mkdtemp(prefix="profile_step-")
    start = time.perf_counter()
    tf.profiler.experimental.start(logdir)
    for _ in range(args.steps):
        step()
    tf.profiler.experimental.stop()
    seconds = time.perf_counter() - start
    times, wall = op_times(logdir)
    groups = collections.Counter()
    for (name, op_type), ps in times.items():
        groups[group(name, op_type)] += ps
    total = sum(groups.values())
    top = collections.Counter()
    for (_, op_type), ps in times.items():
        top[op_type] += ps
    conv = sum(v for k, v in groups.items() if k.startswith("conv"))
    print(json.dumps({
        "benchmark": "profile_step", "method": args.method, "batch": args.batch, "steps": args.steps,
        "batch_norm": "keras" if args.keras_bn else "fused", "cpu": cpu_model(), "tensorflow": tf.__version__,
        "step_s": round(wall / 1e12 / args.steps, 3), "profiled_s": round(seconds, 1),
        "op_thread_s_per_step": round(total / 1e12 / args.steps, 3),
        "conv_share": round(conv / total, 3),
        "shares": {k: round(v / total, 3) for k, v in groups.most_common()},
        "top_ops_s_per_step": {k: round(v / 1e12 / args.steps, 3) for k, v in top.most_common(8)},
        "logdir": logdir if args.logdir else None}, indent=1))


if __name__ == "__main__":
    main()
