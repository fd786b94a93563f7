"""PGD-20 throughput on a ResNet-20, this project's attack vs CleverHans' (prints JSON).

    python -m bench.attacks [--batch=128] [--repeats=3]

Same model (a ResNet-20 as exported: the served SavedModel's ``serve_deterministic`` signature), same
batch, same run:
* ``cleverhans``: ``cleverhans.tf2.attacks.projected_gradient_descent`` called eagerly, as its docs show;
* ``zoo``: ``zoo.adversarial.pgd_linf`` (the project's PGD, steps unrolled) in one ``tf.function``,
  with and without XLA.
Target (issue 4): at least 2x CleverHans' images/s, aiming for 3x.
"""
import argparse
import json
import tempfile
import time

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment: oneDNN on, logs quiet)

EPS, STEP, STEPS = 8 / 255, 2 / 255, 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    import zoo
    from zoo import adversarial

    net = zoo.create("resnet20", num_classes=10, input_shape=(32, 32, 3))
    path = zoo.export(net, tempfile.mkdtemp(), name="bench_resnet20")
    loaded = tf.saved_model.load(path)  # keep the object alive: its signatures reference its variables
    served = loaded.signatures["serve_deterministic"]
    model_fn = lambda x: served(images=x)["logits"]  # noqa: E731
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(args.batch, 32, 32, 3)).astype("float32"))
    y = tf.constant(rng.integers(0, 10, size=args.batch).astype("int32"))

    def cleverhans():
        return projected_gradient_descent(model_fn, x, EPS, STEP, STEPS, np.inf, clip_min=0.0, clip_max=1.0, y=y,
                                          rand_init=True, sanity_checks=False)

    def ours(jit):
        fn = tf.function(lambda a, b: adversarial.pgd_linf(model_fn, a, b, EPS, STEP, STEPS), jit_compile=jit)
        return lambda: fn(x, y)

    results = {}
    for name, fn in [("cleverhans_eager", cleverhans), ("zoo_tf_function", ours(False)),
                     ("zoo_tf_function_xla", ours(True))]:
        start = time.perf_counter()
        x_adv = fn()
        first = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            x_adv = fn()
            float(tf.reduce_sum(x_adv))
            times.append(time.perf_counter() - start)
        assert float(tf.reduce_max(tf.abs(x_adv - x))) <= EPS + 1e-6
        results[name] = {"images_per_s": round(args.batch / float(np.median(times)), 1),
                         "first_call_s": round(first, 1)}
        print(json.dumps({name: results[name]}), flush=True)
    base = results["cleverhans_eager"]["images_per_s"]
    best = max(results["zoo_tf_function"]["images_per_s"], results["zoo_tf_function_xla"]["images_per_s"])
    print(json.dumps({"benchmark": "pgd20_resnet20", "batch": args.batch, "steps": STEPS, "tensorflow": tf.__version__,
                      "results": results, "speedup_vs_cleverhans": round(best / base, 2)}, indent=1))


if __name__ == "__main__":
    main()
