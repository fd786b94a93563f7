"""Put an input channel in front of a trained model, without training (the perturbation study's input defenses).

    python -m trainers.channel --flagfile=configs/zoo/fc30_resnet20.cfg

The study (Dziedzic & Krishnan, sec. 3.1-3.4, Table 1, Fig. 1) applies FFT compression (FC), colour depth
(CD), SVD compression and Gaussian / uniform / Laplace noise to the input of an already trained network.
This command loads ``--base_model`` (a shipped model's name or a SavedModel version directory made by
``zoo.export``), rebuilds the same architecture with ``--channel`` in front of its normalisation, copies every
weight (channels have none), measures the test accuracy (noise on and, for random channels, off) and exports
``<export_dir>/<export_name>/<version>/`` with the base's name, version and commit in its metadata.
"""
import os
import sys
import time

from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    if "base_model" in FLAGS:
        return
    flags.DEFINE_string("base_model", None, "trained model: a shipped model's name (zoo.list_pretrained()) or a "
                        "SavedModel version directory made by zoo.export")
    flags.DEFINE_string("channel", None, "input channel spec, e.g. fft_compress:fraction=0.7, color_depth:bits=4, "
                        "svd_compress:rank=16, gaussian:stddev=0.03, laplace:scale=0.03, uniform:epsilon=0.04")
    flags.DEFINE_string("dataset", "digits", "dataset of the accuracy check (a TFDS name or prepared directory)")
    flags.DEFINE_string("data_dir", None, "TFDS data_dir for named datasets")
    flags.DEFINE_string("eval_split", "test", "split of the accuracy check")
    flags.DEFINE_integer("num_eval_examples", None, "use only the first N evaluation examples")
    flags.DEFINE_integer("batch_size", 256, "evaluation batch size")
    flags.DEFINE_string("export_dir", "exported_models", "where the SavedModel is written")
    flags.DEFINE_string("export_name", None, "model name under export_dir (required)")


def base_spec(version_dir):
    """The architecture, classes, input shape, variant and architecture keywords of an exported zoo model."""
    import zoo
    from zoo.errors import ZooError
    meta = zoo.read_metadata(version_dir)
    missing = [k for k in ("architecture", "num_classes", "input_shape", "variant") if k not in meta]
    if missing:
        raise ZooError(f"--base_model={version_dir}: its metadata has no {', '.join(missing)}: expected a model "
                       "exported by zoo.export from zoo.create")
    if meta["variant"].get("channel"):
        raise ZooError(f"--base_model={version_dir}: it already has the input channel {meta['variant']['channel']!r}: "
                       "expected a model without one")
    return meta


def wrap(base, meta, channel):
    """A new model of the base's architecture with ``channel`` at its input and the base's weights."""
    import zoo
    variant = {**meta["variant"], "channel": channel}
    net = zoo.create(meta["architecture"], num_classes=meta["num_classes"], input_shape=tuple(meta["input_shape"]),
                     **variant, **meta.get("arch_kwargs", {}))
    net.set_weights(base.get_weights())
    return net


def main(argv=None):
    from zoo.cli import parse_flags, usage_error, writable_dir
    from zoo.errors import ZooError
    define_flags()
    try:
        parse_flags(argv)
        for flag in ("base_model", "channel", "export_name"):
            if not getattr(FLAGS, flag):
                raise ZooError(f"--{flag} is required: see configs/zoo/*.cfg for examples")
        import keras

        import zoo
        from trainers.provenance import provenance
        from trainers.run import accuracy
        from zoo import data
        from zoo.export import KERAS_FILE
        from zoo.layers.channels import parse_channel_spec
        from zoo.pretrained import resolve
        parse_channel_spec(FLAGS.channel)
        version_dir = resolve(FLAGS.base_model)
        if not os.path.isdir(version_dir):
            raise ZooError(f"--base_model={FLAGS.base_model}: no such directory and no shipped model of that name: "
                           f"expected one of {', '.join(zoo.list_pretrained()) or 'none'} or exported_models/<name>/<v>")
        meta = base_spec(version_dir)
        writable_dir(os.path.join(FLAGS.export_dir, FLAGS.export_name), "export_dir", shown=FLAGS.export_dir)
        start = time.time()
        base = keras.saving.load_model(os.path.join(version_dir, KERAS_FILE), compile=False)
        net = wrap(base, meta, FLAGS.channel)
        eval_ds = data.load(FLAGS.dataset, FLAGS.eval_split, batch_size=FLAGS.batch_size, data_dir=FLAGS.data_dir,
                            num_examples=FLAGS.num_eval_examples)
        metrics = {"test_acc": accuracy(net, eval_ds, noise=True), "base_test_acc": accuracy(base, eval_ds, noise=True)}
        if zoo.randomness(net)["is_random"]:
            metrics["test_acc_deterministic"] = accuracy(net, eval_ds, noise=False)
        metrics["train_seconds"] = 0.0
        metrics["wrap_seconds"] = round(time.time() - start, 1)
        training = {"method": "channel", "channel": FLAGS.channel, "dataset": FLAGS.dataset,
                    "eval_split": FLAGS.eval_split, "num_eval_examples": FLAGS.num_eval_examples,
                    "base_model": meta.get("name"), "base_version": meta.get("version"),
                    "base_training": meta.get("training"), "base_provenance": meta.get("provenance"),
                    "base_metrics": meta.get("metrics")}
        path = zoo.export(net, FLAGS.export_dir, name=FLAGS.export_name,
                          metadata={"training": training, "metrics": metrics, "provenance": provenance()})
    except ZooError as err:
        usage_error(err)
    print(f"channel {FLAGS.channel} on {meta.get('name')}: test accuracy {metrics['test_acc']:.4f} "
          f"(base {metrics['base_test_acc']:.4f}); exported {path}")
    return path


if __name__ == "__main__":
    main(sys.argv)
