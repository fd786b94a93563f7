"""``--jit_compile=auto``: compile the train step with XLA only where it measures faster.

XLA is faster than TensorFlow's oneDNN kernels on some CPUs of this project's machine kind and slower on
others (docs/PERFORMANCE.md), so ``auto`` (the default) times the run's own train step both ways on one
batch of its data before the first epoch and keeps the faster. The measurement is cached per CPU model,
TensorFlow version, oneDNN setting and step shape (``$XDG_CACHE_HOME/robustness_zoo/jit.json``), so a
resumed run or a second run of the same recipe decides at once. Weights, optimizer state and noise seeds
are restored after the timing, so the training itself is unchanged by it. The choice and its reason go
to the log and into the export's metadata (``provenance.sessions[].jit``).
"""
import statistics
import time

from zoo.machine import choice_cache_path, choice_key, cpu_model, read_choice, write_choice

MODES = ("auto", "on", "off")
TIMED_STEPS = 2  # after one step that traces (and compiles)
MIN_RUN_STEPS = 200  # shorter runs cannot repay the seconds the measurement costs


def parse_mode(value):
    """'auto' | True/'on'/'true'/'1' | False/'off'/'false'/'0' -> 'auto' | True | False."""
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in ("true", "on", "1", "yes"):
        return True
    if text in ("false", "off", "0", "no"):
        return False
    from zoo.errors import ZooError
    raise ZooError(f"--jit_compile={value}: expected one of auto, on, off")


def cache_key(config, input_shape):
    """What the faster choice depends on besides the machine: the step's shape and algorithm."""
    v = config.variant
    return choice_key("train_step", config.method, config.model, v.width, config.batch_size, tuple(input_shape),
                      config.steps, v.pni, v.robustnet, v.anp_layers, v.paramnet, config.mixed_precision,
                      config.strategy)


def _snapshot(trainer):
    trainer.optimizer.build(trainer.trainable_variables)
    variables = list(trainer.variables) + list(trainer.optimizer.variables)
    return [(v, v.numpy()) for v in variables]


def _time_steps(trainer, batch, jit):
    """Seconds of the first call (trace/compile) and the median of TIMED_STEPS more."""
    trainer.jit_compile = jit
    trainer.make_train_function(force=True)
    x, y = batch
    start = time.perf_counter()
    trainer.train_on_batch(x, y)
    first = time.perf_counter() - start
    times = []
    for _ in range(TIMED_STEPS):
        start = time.perf_counter()
        logs = trainer.train_on_batch(x, y, return_dict=True)
        float(next(iter(logs.values())))
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def choose(trainer, config, dataset, steps_in_run, log=print):
    """Set ``trainer``'s jit_compile from ``config.jit_compile`` (True, False or 'auto'); return the record
    {"jit_compile": bool, "why": str, ...} for the log and the metadata.

    ``dataset`` gives the timing batch: pass the evaluation set, whose iteration draws no random stream
    (iterating the training set would shift the shuffles a resumed run replays)."""
    mode = parse_mode(config.jit_compile)
    if mode != "auto":
        decision = {"jit_compile": mode, "why": f"--jit_compile={'on' if mode else 'off'}"}
    elif config.strategy != "default":
        decision = {"jit_compile": False, "why": f"auto: not measured under --strategy={config.strategy} (workers "
                                                 "could decide differently); no XLA"}
    elif steps_in_run < MIN_RUN_STEPS:
        decision = {"jit_compile": False,
                    "why": f"auto: a run of {steps_in_run} steps (< {MIN_RUN_STEPS}) cannot repay the measurement"}
    else:
        key = cache_key(config, dataset.element_spec[0].shape[1:])
        cached = read_choice(key)
        if cached:
            decision = {**cached, "why": cached["why"] + f" (cached measurement, {choice_cache_path()})"}
        else:
            decision = _measure(trainer, next(iter(dataset)), config)
            write_choice(key, decision)
    trainer.jit_compile = decision["jit_compile"]
    trainer.make_train_function(force=True)
    log(f"jit_compile={decision['jit_compile']}: {decision['why']}")
    return decision


def _measure(trainer, batch, config):
    """Time the step of the run's last phase (where the adversarial methods spend their epochs) both ways,
    then restore every variable and the phase."""
    saved, phase = _snapshot(trainer), trainer.phase
    trainer.phase = trainer.phase_for_epoch(config.epochs - 1)
    try:
        timings = {jit: _time_steps(trainer, batch, jit) for jit in (False, True)}
    finally:
        for variable, value in saved:
            variable.assign(value)
        trainer.reset_metrics()
        trainer.phase = phase
    n = int(batch[0].shape[0])
    rate = {("xla" if jit else "no_xla"): round(n / step, 1) for jit, (_, step) in timings.items()}
    faster = timings[True][1] < timings[False][1]
    ratio = timings[False][1] / timings[True][1]
    return {"jit_compile": faster, "images_per_s": rate,
            "first_step_s": {("xla" if j else "no_xla"): round(t[0], 1) for j, t in timings.items()},
            "why": f"auto: XLA {rate['xla']} img/s vs {rate['no_xla']} without ({ratio:.2f}x) on {cpu_model()}"}
