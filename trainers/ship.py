"""Ship a trained export as a zoo model: its model card, its training curves, and git tracking.

    python -m trainers.ship --name=vanilla_resnet20 --config=configs/zoo/vanilla_resnet20.cfg

Reads ``exported_models/<name>/<newest version>/`` (metadata: training flags, metrics, history, provenance),
writes ``exported_models/<name>/MODEL_CARD.md`` (command, config and its recipe notes, commit, data, budget,
wall time, machine, the accuracy measured at export) and ``exported_models/<name>/curves.png`` (loss, clean
and adversarial accuracy, learning rate, PNI's alpha per layer), removes the export lock, checks the size
limits (5 MB a model, 80 MB in all) and un-ignores the model in ``.gitignore``. The measured robustness
block between ``<!-- leaderboard:begin -->`` and ``<!-- leaderboard:end -->`` belongs to
``python -m eval.leaderboard`` and is kept as it is.
"""
import datetime
import os
import sys

from absl import flags

from zoo.errors import ZooError

FLAGS = flags.FLAGS
MODEL_LIMIT, TOTAL_LIMIT = 5 * 2 ** 20, 80 * 2 ** 20
CHECK_EXAMPLES = 500
CIFAR = "../shared/data/cifar10_jpeg/1.0.0"
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- leaderboard:begin -->", "<!-- leaderboard:end -->"
_PENDING = f"{BEGIN}\n## Measured (leaderboard protocol)\n\nNot measured yet: run `make leaderboard`.\n{END}\n"


def define_flags():
    if "config" in FLAGS:
        return
    flags.DEFINE_string("name", None, "the export's name under --root (exported_models/<name>/<version>)")
    flags.DEFINE_string("config", None, "the flagfile that made it (configs/zoo/<name>.cfg)")
    flags.DEFINE_string("root", "exported_models", "where the shipped models live")
    flags.DEFINE_string("gitignore", ".gitignore", "the .gitignore that gets the model's un-ignore line")
    flags.DEFINE_string("check_data", CIFAR, "CIFAR-10 prepared directory for the card's CI-check accuracy "
                        "(first 500 test images, plain TensorFlow); empty: no check")


def dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _duration(seconds):
    seconds = int(round(seconds or 0))
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min" if seconds >= 3600 else f"{seconds // 60} min {seconds % 60} s"


def recipe_notes(config_path):
    """The comment lines at the top of a flagfile: what the recipe is and where it deviates from the paper."""
    notes = []
    with open(config_path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            notes.append(line[1:].strip())
    return " ".join(notes)


def _randomness(meta):
    layers = meta.get("random_layers", [])
    if not meta.get("is_random"):
        return "deterministic (no noise at inference)"
    return f"random: {len(layers)} noise layer{'s' if len(layers) != 1 else ''} ({', '.join(layers[:3])}{', ...' if len(layers) > 3 else ''})"


def _evaluated(training):
    n, split = training.get("num_eval_examples"), training.get("eval_split", "test")
    return f"the first {n} images of the {split} split" if n else f"the whole {split} split"


def _plural(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _adversary_text(training):
    """What the training attacked with, by method: PGD (pgd, pni with w_adv > 0, robustnet --adversarial),
    Step-LL (nat, eat), ANP's hidden-layer noise, LAT's latent noise; else clean images only."""
    method, t = training.get("method"), training
    if method == "pgd" or (method == "pni" and t.get("w_adv", 0.5) > 0) or \
            (method == "robustnet" and t.get("adversarial")):
        return (f"; adversary PGD-{t.get('steps')} eps {t.get('eps', 0) * 255:.0f}/255 step {t.get('step_size')} "
                f"(batch norm: {t.get('attack_bn')}), from epoch {t.get('adv_start_epoch', 0)}")
    if method in ("nat", "eat"):
        return f"; adversary Step-LL (batch norm: {t.get('attack_bn')})"
    if method == "anp":
        phases = ", ".join(f"eta {p.get('eta')} eps {p.get('eps')} k {p.get('k')} for {p.get('epochs')} epochs"
                           for p in t.get("anp_phases") or [] if isinstance(p, dict))
        return (f"; ANP noise on the first {t.get('anp_layers')} hidden layers after "
                f"{_plural(t.get('anp_clean_epochs', 0), 'clean epoch')}: {phases}")
    if method == "lat":
        return f"; LAT latent adversarial noise {t.get('lat_eps')}"
    return "; clean images only" + (" (w_adv = 0)" if method == "pni" else "")


def _jit_text(origin):
    """The XLA decisions of the run's sessions (``trainers/jit.py``), if it recorded any."""
    whys = list(dict.fromkeys(s["jit"]["why"] for s in origin.get("sessions", []) if s.get("jit")))
    return f"; XLA: {' / '.join(whys)}" if whys else ""


def _commit_text(origin):
    """The commit the run started at, and those of later sessions when a resumed run crossed commits."""
    text = f"`{origin.get('commit')}`" + (" (with uncommitted changes)" if origin.get("uncommitted_changes") else "")
    later = [s for s in origin.get("sessions", [])[1:] if s["provenance"].get("commit") != origin.get("commit")]
    if later:
        text += "; resumed at " + ", ".join(f"`{s['provenance'].get('commit', '')[:10]}` (epoch {s['start_epoch']})"
                                            for s in later)
    return text + (f"; {origin['note']}" if origin.get("note") else "")


def _check_text(check):
    if not check:
        return "not checked (no CIFAR-10 test data given to trainers.ship)"
    passes = f", mean of {len(check['passes'])} passes" if check["is_random"] else ""
    return (f"{100 * check['accuracy']:.2f} % clean on the first {check['examples']} test images (serving_default in "
            f"plain TensorFlow{passes}; tests/test_shipped_models.py checks it within 1.5 points)")


def command(meta, config_path):
    method = meta.get("training", {}).get("method", "vanilla")
    return f"python -m trainers.{method} --flagfile={config_path}"


def plot_curves(history, path, title):
    """Loss, accuracies (train clean/adv, test clean), learning rate and PNI alphas per epoch; PNG at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    alphas = {k.split(":", 1)[1]: v for k, v in history.items() if k.startswith("alpha:")}
    panels = 3 + bool(alphas)
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.2), dpi=90)
    epochs = range(1, 1 + max((len(v) for v in history.values()), default=0))

    def line(ax, key, label):
        if key in history:
            ax.plot(list(epochs)[:len(history[key])], history[key], label=label)

    for key in sorted(k for k in history if k.endswith("loss") and not k.startswith("val_")):
        line(axes[0], key, key)
    line(axes[0], "val_loss", "test loss")
    axes[0].set_title("loss")
    for key in sorted(k for k in history if k.endswith("_acc")):
        if key.endswith("adv_acc") and not any(history[key]):
            continue  # a clean run's adversarial-accuracy metric (always 0): no line that reads as a result
        line(axes[1], key, key.replace("val_", "test ") if key.startswith("val_") else "train " + key)
    axes[1].set_title("accuracy")
    axes[1].set_ylim(0, 1)
    line(axes[2], "learning_rate", "lr")
    axes[2].set_title("learning rate")
    if alphas:
        for key, values in sorted(alphas.items()):
            axes[3].plot(list(epochs)[:len(values)], values, lw=0.8)
        axes[3].set_title(f"PNI alpha ({len(alphas)} layers)")
    for ax in axes:
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def ci_accuracy(version_dir, data, examples=CHECK_EXAMPLES):
    """The ``serving_default`` accuracy on the first ``examples`` test images, measured by
    ``exported_models/check_accuracy.py`` in a fresh process that does not import this project."""
    import json
    import subprocess
    script = os.path.join(_ROOT, "exported_models", "check_accuracy.py")
    done = subprocess.run([sys.executable, script, f"--data={data}", f"--examples={examples}", version_dir],
                          capture_output=True, text=True, timeout=1800, cwd=_ROOT)
    if done.returncode:
        raise ZooError(f"{script} failed on {version_dir}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])[version_dir]


def card_text(name, version_dir, meta, config_path, old_card=None, check=None):
    """The model card's Markdown; the leaderboard block of ``old_card`` is kept."""
    training, metrics, origin = meta.get("training", {}), meta.get("metrics", {}), meta.get("provenance", {})
    variant = meta.get("variant", {})
    base = training.get("base_training") or {}
    epochs = training.get("epochs", base.get("epochs"))
    seconds = metrics.get("train_seconds", 0.0) or (training.get("base_metrics") or {}).get("train_seconds", 0.0)
    acc = f"{100 * metrics['test_acc']:.2f} %" if "test_acc" in metrics else "n/a"
    if "test_acc_deterministic" in metrics:
        acc += f" (noise on, one pass); {100 * metrics['test_acc_deterministic']:.2f} % noise off"
    budget = (f"{epochs} epochs, batch {training.get('batch_size')}, lr {training.get('lr')} "
              f"({training.get('lr_schedule', 'step')} schedule, {_plural(training.get('warmup_epochs', 0), 'warm-up epoch')}), "
              f"momentum {training.get('momentum')}{' Nesterov' if training.get('nesterov') else ''}, weight decay "
              f"{training.get('weight_decay')}") if training.get("method") != "channel" else \
        f"no training: the input channel `{training.get('channel')}` in front of `{training.get('base_model')}`'s weights"
    if training.get("method") != "channel":
        budget += _adversary_text(training)
    data = training.get("dataset") or base.get("dataset")
    rows = [
        ("load", f"`zoo.load(\"{name}\")`; `python -m eval --model={name}`; TF Serving: `{version_dir}`"),
        ("architecture", f"{meta.get('architecture')} width {variant.get('width', 1)}, input "
                         f"{'x'.join(map(str, meta.get('input_shape', [])))}, {meta.get('num_classes')} classes"),
        ("randomness", _randomness(meta)),
        ("command", f"`{command(meta, config_path)}`"),
        ("data", f"`{data}` (CIFAR-10 stored as JPEG quality 75 - a deviation from the PNG originals; train "
                 "50,000 / test 10,000)" if data and "cifar10_jpeg" in data else f"`{data}`"),
        ("budget", budget),
        ("wall time", f"{_duration(seconds)} of training ({seconds:.0f} s)" if training.get("method") != "channel" else
         f"no training; wrapping and measuring took {metrics.get('wrap_seconds', 0):.0f} s (the base model: "
         f"{_duration(seconds)} of training)"),
        *([("notes", "; ".join(meta["notes"]))] if meta.get("notes") else []),  # added to the metadata by hand
        ("machine", f"{origin.get('cpu')}, {origin.get('cpu_count')} cores; TensorFlow {origin.get('tensorflow')}, "
                    f"Keras {origin.get('keras')}, oneDNN {origin.get('onednn')}" + _jit_text(origin)),
        ("commit", _commit_text(origin)),
        ("test accuracy at export", f"{acc} ({_evaluated(training)})"),
        ("exported", f"{meta.get('exported_at')}, version {meta.get('version')}"),
        ("CI check", _check_text(check)),
    ]
    if training.get("method") == "channel":
        b = training.get("base_provenance") or {}
        rows.insert(6, ("base", f"`{training.get('base_model')}` version {training.get('base_version')}, commit "
                                f"`{b.get('commit')}`, base test accuracy "
                                f"{100 * (metrics.get('base_test_acc') or 0):.2f} %"))
    block = _PENDING
    if old_card and BEGIN in old_card and END in old_card:
        block = old_card[old_card.index(BEGIN):old_card.index(END) + len(END)] + "\n"
    lines = [f"# {name}", "", recipe_notes(config_path), "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "## Training curves", "", "![training curves](curves.png)" if meta.get("history") or
              training.get("method") != "channel" else "No training (an input channel on trained weights).", "",
              block]
    return "\n".join(lines)


def ship(name, config_path, root="exported_models", gitignore=".gitignore", history=None, check_data=None):
    """Write the card and curves of ``<root>/<name>``, check sizes, un-ignore it; returns the card path."""
    import zoo
    from zoo.export import versions
    model_dir = os.path.join(root, name)
    present = versions(model_dir) if os.path.isdir(model_dir) else []
    if not present:
        raise ZooError(f"--name={name}: no export in {model_dir}: expected exported_models/<name>/<version> made by "
                       "a trainer")
    if not os.path.isfile(config_path):
        raise ZooError(f"--config={config_path}: no such file: expected the flagfile that trained it")
    version_dir = os.path.join(model_dir, str(present[-1]))
    meta = zoo.read_metadata(version_dir)
    history = history or meta.get("history") or {}
    lock = os.path.join(model_dir, ".export.lock")
    if os.path.exists(lock):
        os.remove(lock)
    size = dir_size(version_dir)
    if size > MODEL_LIMIT:
        raise ZooError(f"{version_dir} is {size / 2 ** 20:.1f} MB: expected at most 5 MB per shipped model")
    if history:
        plot_curves(history, os.path.join(model_dir, "curves.png"), f"{name} ({meta.get('exported_at')})")
    card = os.path.join(model_dir, "MODEL_CARD.md")
    old = open(card).read() if os.path.isfile(card) else None
    check = None
    if check_data and list(meta.get("input_shape", [])) == [32, 32, 3]:
        check = ci_accuracy(os.path.abspath(version_dir), check_data)
    text = card_text(name, os.path.join(root, name, str(present[-1])), {**meta, "history": history}, config_path, old,
                     check)
    with open(card + ".tmp", "w") as f:
        f.write(text)
    os.replace(card + ".tmp", card)
    total = sum(dir_size(os.path.join(root, n)) for n in zoo.list_pretrained()) if root == "exported_models" else size
    if total > TOTAL_LIMIT:
        raise ZooError(f"the shipped models take {total / 2 ** 20:.1f} MB: expected at most 80 MB together")
    line = f"!/{root.strip('/')}/{name}/"
    lines = open(gitignore).read().splitlines() if os.path.isfile(gitignore) else []
    if line not in lines:
        with open(gitignore, "a") as f:
            f.write(line + "\n")
    return card, size, total


def main(argv=None):
    import json

    from zoo.cli import parse_flags, usage_error
    define_flags()
    try:
        parse_flags(argv)
        for flag in ("name", "config"):
            if not getattr(FLAGS, flag):
                raise ZooError(f"--{flag} is required (e.g. --name=vanilla_resnet20 "
                               "--config=configs/zoo/vanilla_resnet20.cfg)")
        history = None
        run_history = os.path.join("runs", FLAGS.name, "history.json")
        if os.path.isfile(run_history):  # a run made before exports carried their history
            with open(run_history) as f:
                history = json.load(f).get("history")
        card, size, total = ship(FLAGS.name, FLAGS.config, FLAGS.root, FLAGS.gitignore, history,
                                 FLAGS.check_data or None)
    except ZooError as err:
        usage_error(err)
    print(f"shipped {FLAGS.name}: {card}, {size / 2 ** 20:.2f} MB (all shipped: {total / 2 ** 20:.1f} MB) at "
          f"{datetime.datetime.now().isoformat(timespec='seconds')}")


if __name__ == "__main__":
    main(sys.argv)
