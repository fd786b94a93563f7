"""``python -m zoo.serving_config``: a TF Serving configuration for every model under ``exported_models/``.

    python -m zoo.serving_config --models_dir=exported_models [--base_path=/models] [--max_batch_size=64]

writes ``<models_dir>/models.config`` (a ``model_config_list``: one entry per ``<name>/`` holding at least one
complete integer version, ``base_path`` = ``<base_path>/<name>``, where the directory is mounted in the
server's container) and ``<models_dir>/batching.config`` (``BatchingParameters`` for ``--enable_batching``).
Both are protobuf text format, written by hand (the two messages are flat) so that no TF Serving package
is needed; ``tests/zoo/test_serving.py`` parses them with ``tensorflow_serving.config`` when it is installed.
Start the server as BUILD.md section 6 shows. Usage errors print one line and exit with status 2.
"""
import os
import sys

from zoo.errors import ZooError

MODELS_CONFIG = "models.config"
BATCHING_CONFIG = "batching.config"


def servable_models(models_dir):
    """{name: [versions]} of the model directories TF Serving can load (complete integer versions only)."""
    if not os.path.isdir(models_dir):
        raise ZooError(f"--models_dir={models_dir}: no such directory (expected exported_models, holding "
                       "<name>/<version>/saved_model.pb)")
    found = {}
    for name in sorted(os.listdir(models_dir)):
        model_dir = os.path.join(models_dir, name)
        if name.startswith(".") or not os.path.isdir(model_dir):
            continue
        versions = sorted(int(v) for v in os.listdir(model_dir) if v.isdigit() and all(
            os.path.exists(os.path.join(model_dir, v, part)) for part in ("saved_model.pb", "variables")))
        if versions:
            found[name] = versions
    return found


def models_config(models, base_path):
    """model_config_list text proto (tensorflow_serving/config/model_server_config.proto)."""
    entries = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "{base_path.rstrip("/")}/{name}"\n'
        f'    model_platform: "tensorflow"\n  }}\n' for name in models)
    return f"model_config_list {{\n{entries}}}\n"


def batching_config(max_batch_size=64, batch_timeout_micros=2000, num_batch_threads=None, max_enqueued_batches=64):
    """BatchingParameters text proto (tensorflow_serving/servables/tensorflow/session_bundle_config.proto)."""
    threads = num_batch_threads or os.cpu_count() or 1
    return (f"max_batch_size {{ value: {max_batch_size} }}\n"
            f"batch_timeout_micros {{ value: {batch_timeout_micros} }}\n"
            f"max_enqueued_batches {{ value: {max_enqueued_batches} }}\n"
            f"num_batch_threads {{ value: {threads} }}\n")


def write(models_dir, base_path="/models", max_batch_size=64, batch_timeout_micros=2000):
    """Write models.config and batching.config into ``models_dir``; returns (paths, {name: versions})."""
    if max_batch_size < 1 or batch_timeout_micros < 0:
        raise ZooError(f"--max_batch_size={max_batch_size} / --batch_timeout_micros={batch_timeout_micros}: "
                       "expected >= 1 / >= 0")
    models = servable_models(models_dir)
    if not models:
        listing = ", ".join(sorted(os.listdir(models_dir))) or "nothing"
        raise ZooError(f"--models_dir={models_dir}: no model with a complete version (<name>/<integer>/"
                       f"saved_model.pb and variables/); it has {listing}")
    paths = (os.path.join(models_dir, MODELS_CONFIG), os.path.join(models_dir, BATCHING_CONFIG))
    for path, text in zip(paths, (models_config(models, base_path),
                                  batching_config(max_batch_size, batch_timeout_micros))):
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return paths, models


def main():
    from absl import flags

    from zoo.cli import parse_flags, usage_error
    flags.DEFINE_string("models_dir", "exported_models", "directory of <name>/<version>/ SavedModels")
    flags.DEFINE_string("base_path", "/models", "where models_dir is mounted inside the server's container")
    flags.DEFINE_integer("max_batch_size", 64, "batching: largest batch the server forms")
    flags.DEFINE_integer("batch_timeout_micros", 2000, "batching: longest wait for a batch to fill")
    parse_flags()
    FLAGS = flags.FLAGS
    try:
        paths, models = write(FLAGS.models_dir, FLAGS.base_path, FLAGS.max_batch_size, FLAGS.batch_timeout_micros)
    except ZooError as err:
        usage_error(err)
    print(f"wrote {paths[0]} ({len(models)} models: {', '.join(models)}) and {paths[1]}", file=sys.stdout)


if __name__ == "__main__":
    main()
