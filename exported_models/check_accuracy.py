"""Clean accuracy of shipped SavedModels with plain TensorFlow: no import of this project.

    python exported_models/check_accuracy.py --data=../shared/data/cifar10_jpeg/1.0.0 --examples=500 \
        exported_models/vanilla_resnet20/1 [more version dirs]

Prints one JSON object: {version_dir: {"accuracy": mean, "passes": [...], "examples": n}}. Each model is
called through its ``serving_default`` signature on the first ``--examples`` test images (float32 in [0, 1]),
exactly as TF Serving would; models whose metadata says ``is_random`` are run ``--passes`` times (default 5)
and the mean is reported. ``python -m trainers.ship`` writes this number into the model card and CI checks
it again (tests/test_shipped_models.py), so what a card says is what the served artifact does.
"""
import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def test_images(data, examples):
    import numpy as np
    import tensorflow_datasets as tfds
    builder = tfds.builder_from_directory(data)
    ds = builder.as_dataset(split=f"test[:{examples}]", as_supervised=True, shuffle_files=False)
    xs, ys = zip(*[(x, y) for x, y in tfds.as_numpy(ds)])
    return np.stack(xs).astype("float32") / 255.0, np.asarray(ys)


def accuracy(version_dir, x, y, passes, batch=250):
    import numpy as np
    import tensorflow as tf
    meta_path = os.path.join(version_dir, "assets.extra", "zoo_metadata.json")
    is_random = json.load(open(meta_path)).get("is_random", False) if os.path.isfile(meta_path) else False
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    results = []
    for _ in range(passes if is_random else 1):
        logits = np.concatenate([serve(images=tf.constant(x[i:i + batch]))["logits"].numpy()
                                 for i in range(0, len(x), batch)])
        results.append(float((logits.argmax(-1) == y).mean()))
    return {"accuracy": float(np.mean(results)), "passes": results, "examples": int(len(x)), "is_random": is_random}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version_dirs", nargs="+")
    parser.add_argument("--data", required=True, help="TFDS prepared CIFAR-10 directory")
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--passes", type=int, default=5, help="passes for random models (mean reported)")
    args = parser.parse_args()
    x, y = test_images(args.data, args.examples)
    print(json.dumps({d: accuracy(d, x, y, args.passes) for d in args.version_dirs}))


if __name__ == "__main__":
    main()
