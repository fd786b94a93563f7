"""`make quickstart`: train a small PNI model on the embedded digits data, export it, reload the
SavedModel (the artifact TF Serving would load) and report its clean accuracy.

Everything is offline: scikit-learn ships the 8x8 digits. On this 2-core CPU it takes about a minute.
"""
import os
import time

import numpy as np

EPS = 0.15  # digits have 17 grey levels: 8/255 would be below one level


def main():
    import tensorflow as tf

    from trainers import run
    from trainers.config import TrainConfig
    from zoo import data

    start = time.time()
    config = TrainConfig(method="pni", model="resnet20", width=0.5, pni="W", dataset="digits", batch_size=64,
                         epochs=8, lr=0.05, lr_boundaries=(6,), momentum=0.9, nesterov=True, weight_decay=3e-4,
                         eps=EPS, step_size=EPS / 4, steps=5, augment=False, export_name="quickstart_pni",
                         run_dir=os.path.join("runs", "quickstart"))
    print(f"Training PNI-W ResNet-20 (width 0.5) on digits with PGD-{config.steps} (eps {EPS}) ...")
    result = run.train(config, verbose=1)
    path = result["export_path"]

    served = tf.saved_model.load(path)
    x, y = data.as_numpy("digits", "test", 360)
    noisy = [np.mean(np.argmax(served.signatures["serving_default"](images=tf.constant(x))["logits"], 1) == y)
             for _ in range(5)]
    det = np.mean(np.argmax(served.signatures["serve_deterministic"](images=tf.constant(x))["logits"], 1) == y)
    alphas = result["net"].get_layer("conv0").alphas["w"].numpy()
    print()
    print(f"SavedModel: {path}")
    print("| signature            | clean accuracy (digits test, 360 images) |")
    print("|----------------------|-------------------------------------------|")
    print(f"| serving_default      | {100 * np.mean(noisy):.2f} ± {100 * np.std(noisy):.2f} % (5 trials, noise on) |")
    print(f"| serve_deterministic  | {100 * det:.2f} % (noise off)                    |")
    print(f"alpha of the first conv: {float(alphas):.3f}; total time {time.time() - start:.0f} s")
    print(f"Serve it: see BUILD.md (docker run ... tensorflow/serving, model base path {os.path.dirname(path)})")


if __name__ == "__main__":
    main()
