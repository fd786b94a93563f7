"""The Adversarial Robustness Toolbox (ART 1.20.1) on the zoo's SavedModel, the same-run peer of
``bench/autoattack.py`` (a worker process).

Not part of the project and imports none of it: it runs under the environment that ``make bench-attack-peers``
creates (``.venv-art``: tensorflow-cpu 2.21, Keras 3, adversarial-robustness-toolbox 1.20.1 and ``multiprocess``,
which ART's AutoAttack imports although only its ``non-framework`` extra declares it). The model is the SavedModel's
``serve_deterministic`` signature (noise off), loaded with ``tf.saved_model.load`` and wrapped as ART's
documented "python function or callable" model of ``art.estimators.classification.TensorFlowV2Classifier``
(nb_classes 10, input_shape (32, 32, 3), channels last, clip_values (0, 1), loss
``SparseCategoricalCrossentropy(from_logits=True)``). Its logits on the check images are compared with the
project's (the same graph in another TensorFlow install: ``max_abs_logit_diff``).

Runs, each on all images at once (ART batches with ``batch``), with wall time, images/s and robust accuracy:

* ``apgd_ce``: ``art.attacks.evasion.AutoProjectedGradientDescent(norm=inf, eps, max_iter=n_iter,
  nb_random_init=1, batch_size, loss_type="cross_entropy")``, ART's default ``eps_step`` (0.1);
* ``autoattack``: ``art.attacks.evasion.AutoAttack(norm=inf, eps, batch_size)`` with ART's default attacks (APGD-CE
  and APGD-DLR with 5 random starts and 100 iterations, DeepFool, Square with 5,000 queries and 5 restarts) and
  default ``eps_step``; when ``n_iter`` or ``square_queries`` is below the protocol (smoke runs) the same list is
  passed explicitly with those budgets. ART has no ``rand`` version (no EOT): the same run stands for both.
  The robust accuracy after each attack comes from ART's ``best_attacks`` (index of the attack that fooled each
  image).

A run that raises records ``{"error": "<type>: <first line of the message>", "where": "<file>:<line>"}`` instead of
numbers. Protocol: one JSON request on stdin (``{"saved_model": dir, "data": npz, "eps": 0.0314, "n_iter": 100,
"square_queries": 5000, "batch": 128, "runs": ["apgd_ce", "autoattack"]}``), one JSON answer on stdout.
"""
import json
import os
import sys
import time
import traceback

FULL_ITER, FULL_QUERIES = 100, 5000  # ART's AutoAttack defaults (and the protocol's)


def log(message):
    print(f"peer_art: {message}", file=sys.stderr, flush=True)


def error_record(err):
    message = str(err).strip().splitlines()[0] if str(err).strip() else "no message"
    frame = traceback.extract_tb(err.__traceback__)[-1]
    where = f"{frame.filename.split('site-packages' + os.sep)[-1]}:{frame.lineno}"
    return {"error": f"{type(err).__name__}: {message}", "where": where}


def make_attack(evasion, np, run, classifier, req):
    eps, n, queries, batch = req["eps"], req["n_iter"], req["square_queries"], req["batch"]
    if run == "apgd_ce":
        return evasion.AutoProjectedGradientDescent(classifier, norm=np.inf, eps=eps, max_iter=n, nb_random_init=1,
                                                    batch_size=batch, loss_type="cross_entropy", verbose=False)
    if run == "autoattack":
        attacks = None  # ART's default list
        if n < FULL_ITER or queries < FULL_QUERIES:  # smoke budget: ART's default list with smaller budgets
            attacks = [
                evasion.AutoProjectedGradientDescent(classifier, norm=np.inf, eps=eps, max_iter=n, nb_random_init=5,
                                                     batch_size=batch, loss_type="cross_entropy"),
                evasion.AutoProjectedGradientDescent(classifier, norm=np.inf, eps=eps, max_iter=n, nb_random_init=5,
                                                     batch_size=batch, loss_type="difference_logits_ratio"),
                evasion.DeepFool(classifier, max_iter=n, epsilon=1e-3, nb_grads=10, batch_size=batch),
                evasion.SquareAttack(classifier, norm=np.inf, max_iter=queries, eps=eps, p_init=0.8, nb_restarts=5)]
        return evasion.AutoAttack(classifier, norm=np.inf, eps=eps, attacks=attacks, batch_size=batch)
    raise ValueError(f"unknown run {run!r}: expected apgd_ce or autoattack")


def run_one(np, evasion, run, classifier, predict, x, y, req):
    start = time.perf_counter()
    try:
        attack = make_attack(evasion, np, run, classifier, req)
        x_adv = attack.generate(x=x, y=y)
    except Exception as err:  # noqa: BLE001 (the peer's failure is the result)
        out = error_record(err)
        out["seconds_until_error"] = round(time.perf_counter() - start, 2)
        log(f"{run}: {out['error']} ({out['where']})")
        return out
    seconds = time.perf_counter() - start
    pert = float(np.max(np.abs(x_adv - x)))
    out = {"seconds": round(seconds, 2), "images_per_s": round(len(x) / seconds, 2),
           "robust_accuracy": round(float(np.mean(predict(x_adv) == y)), 4), "max_perturbation": round(pert, 6)}
    if run == "autoattack":
        best = np.asarray(attack.best_attacks)
        names = [type(a).__name__ + (f"({a.loss_type})" if getattr(a, "loss_type", None) else "")
                 for a in attack.attacks]
        out["attacks"] = names
        out["robust_accuracy_after"] = {f"{k + 1}:{name}": round(float(np.mean((best == -1) | (best > k))), 4)
                                        for k, name in enumerate(names)}
    if pert > req["eps"] + 1e-5:
        out["error"] = f"perturbation {pert:.6f} exceeds eps {req['eps']:.6f}"
    return out


def main():
    request = json.loads(sys.stdin.readline())
    import numpy as np
    import tensorflow as tf
    result = {"tensorflow": tf.__version__}
    try:
        import art
        import keras
        from art.attacks import evasion
        from art.estimators.classification import TensorFlowV2Classifier
        result.update(art=art.__version__, keras=keras.__version__)
        loaded = tf.saved_model.load(request["saved_model"])
        signature = loaded.signatures["serve_deterministic"]
        key = next(iter(signature.structured_input_signature[1]))

        def model(x, training=False):  # ART calls model(x, training=...)
            return signature(**{key: tf.convert_to_tensor(x, tf.float32)})["logits"]

        classifier = TensorFlowV2Classifier(
            model=model, nb_classes=10, input_shape=(32, 32, 3), channels_first=False, clip_values=(0.0, 1.0),
            loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    except Exception as err:  # noqa: BLE001
        result["setup"] = error_record(err)
        print(json.dumps(result), flush=True)
        return
    data = np.load(request["data"])
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    check = classifier.predict(data["check_x"].astype(np.float32), batch_size=request["batch"])
    result["max_abs_logit_diff"] = float(np.max(np.abs(check - data["check_logits"])))

    def predict(images):
        return np.argmax(classifier.predict(images, batch_size=request["batch"]), axis=1)

    result["clean_accuracy"] = round(float(np.mean(predict(x) == y)), 4)
    for run in request["runs"]:
        log(f"{run} on {len(x)} images")
        result[run] = run_one(np, evasion, run, classifier, predict, x, y, request)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
