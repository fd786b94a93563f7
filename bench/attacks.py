"""PGD-20 on a ResNet-20, this project's attacks vs CleverHans' (prints JSON): images/s and robust accuracy.

    python -m bench.attacks [--model=pni_w_resnet20] [--data=../shared/data/cifar10_jpeg/1.0.0]
                            [--num_examples=1000] [--batch=128] [--xla]

Same model, same images, same run. The model is a shipped zoo model's ``serve_deterministic`` signature
(``--model``: a zoo name or a SavedModel version directory; the noise of a random model is off) attacked
on the first ``--num_examples`` images of the test split of ``--data``; without ``--model`` an untrained
ResNet-20 on uniform images (throughput only: nearly every image is misclassified before the attack).
* ``cleverhans_eager``: ``cleverhans.tf2.attacks.projected_gradient_descent`` called eagerly as its docs show;
* ``zoo_tf_function``: ``zoo.adversarial.pgd_linf`` (steps unrolled) in one ``tf.function``, every image
  every step (``--xla``: also with XLA);
* ``zoo_pgd_exit``: ``eval.attacks.early_exit.pgd_early_exit``, misclassified images leave the batch.
Each reports images/s over the whole set (after one warm-up batch), robust accuracy (the model's accuracy
on the returned images) and, for early exit, the fraction of the full work it did.
Target (issue 13): >= 2x CleverHans' images/s at equal or lower robust accuracy (aim 3x).
"""
import argparse
import json
import os
import platform
import time

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment: oneDNN on, logs quiet)

STEPS = 20


def _model_fn(args):
    import tensorflow as tf

    import zoo
    if args.model:
        from zoo.pretrained import resolve
        path = resolve(args.model)
    else:
        import tempfile
        path = zoo.export(zoo.create("resnet20", num_classes=10, input_shape=(32, 32, 3)), tempfile.mkdtemp(),
                          name="bench_resnet20")
    loaded = tf.saved_model.load(path)
    served = loaded.signatures["serve_deterministic"]

    def model_fn(x):
        return served(images=x)["logits"]
    model_fn.loaded = loaded  # keep the object alive: its signatures reference its variables
    return model_fn, path


def _data(args):
    import numpy as np
    if not args.model:
        rng = np.random.default_rng(0)
        return (rng.uniform(size=(args.num_examples, 32, 32, 3)).astype("float32"),
                rng.integers(0, 10, size=args.num_examples).astype("int32"))
    from zoo.data import as_numpy
    return as_numpy(args.data, "test", args.num_examples)  # float32 in [0, 1], int32 labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="zoo name or SavedModel version dir (default: untrained)")
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "cifar10_jpeg", "1.0.0"))
    parser.add_argument("--num_examples", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--xla", action="store_true", help="also time zoo_tf_function with XLA")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    from eval.attacks.early_exit import pgd_early_exit
    from zoo import adversarial
    from zoo.machine import cpu_model
    from zoo.threat import LINF

    eps, step = LINF.eps, LINF.step_size
    model_fn, path = _model_fn(args)
    x_all, y_all = _data(args)

    def cleverhans(x, y):
        return projected_gradient_descent(model_fn, x, eps, step, STEPS, np.inf, clip_min=0.0, clip_max=1.0, y=y,
                                          rand_init=True, sanity_checks=False)

    def ours(jit):
        fn = tf.function(lambda a, b: adversarial.pgd_linf(model_fn, a, b, eps, step, STEPS), jit_compile=jit)
        return fn

    work = []

    def early_exit(x, y):
        return pgd_early_exit(model_fn, x, y, eps, step, STEPS, cost=work)

    runs = [("cleverhans_eager", cleverhans), ("zoo_tf_function", ours(False)), ("zoo_pgd_exit", early_exit)]
    if args.xla:
        runs.insert(2, ("zoo_tf_function_xla", ours(True)))
    batches = [(tf.constant(x_all[i:i + args.batch]), tf.constant(y_all[i:i + args.batch]))
               for i in range(0, len(x_all), args.batch)]
    clean = float(np.mean(np.concatenate([np.argmax(model_fn(x).numpy(), 1) for x, _ in batches]) == y_all))
    results = {}
    for name, fn in runs:
        tf.random.set_seed(0)
        start = time.perf_counter()
        fn(*batches[0])  # warm-up: trace / compile
        first = time.perf_counter() - start
        work.clear()
        start = time.perf_counter()
        correct = 0
        for x, y in batches:
            x_adv = fn(x, y)
            assert float(tf.reduce_max(tf.abs(x_adv - x))) <= eps + 1e-6
            correct += int(np.sum(np.argmax(model_fn(x_adv).numpy(), 1) == y.numpy()))
        seconds = time.perf_counter() - start
        results[name] = {"images_per_s": round(len(x_all) / seconds, 1), "seconds": round(seconds, 1),
                         "robust_accuracy": round(correct / len(x_all), 4), "first_batch_s": round(first, 1)}
        if name == "zoo_pgd_exit":
            results[name]["work_fraction"] = round(sum(work[-len(batches):]) / (STEPS * len(x_all)), 3)
        print(json.dumps({name: results[name]}), flush=True)
    base = results["cleverhans_eager"]["images_per_s"]
    print(json.dumps({"benchmark": "pgd20_resnet20", "model": args.model or "untrained resnet20", "path": path,
                      "images": len(x_all), "clean_accuracy": round(clean, 4), "batch": args.batch, "steps": STEPS,
                      "eps": "8/255", "step": "2/255", "cpu": cpu_model(), "python": platform.python_version(),
                      "tensorflow": tf.__version__, "results": results,
                      "speedup_vs_cleverhans": {k: round(v["images_per_s"] / base, 2) for k, v in results.items()}},
                     indent=1))


if __name__ == "__main__":
    main()
