"""--strategy=multi_worker for real: two worker processes on 127.0.0.1 (loopback only, bounded in time).

One worker's first-step loss equals a single process's (LeNet-5: no batch norm, so the global batch's mean loss
is the same number however it is split); only the chief writes the run dir and the export; a killed worker
stops the chief with one line, and the same command on both workers resumes at the chief's last finished
epoch, where the workers end with the same model (batch-norm statistics averaged before the export).
"""
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 480  # seconds per run of both workers (beside a second pytest worker); a hang fails the test, not CI

# trainers.run.train with a callback that records the first step's loss (what python -m trainers.<method> runs)
DRIVER = textwrap.dedent("""
    import json, os, sys
    import keras
    from trainers.cli import prepare
    from trainers.run import train

    class FirstLoss(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0 and not os.path.exists(sys.argv[1]):
                with open(sys.argv[1], "w") as f:
                    json.dump(float(logs["loss"]), f)

    config = prepare("vanilla", [sys.argv[0], *sys.argv[2:]])
    print("export_path", train(config, verbose=2, extra_callbacks=[FirstLoss()])["export_path"])
""")


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env(tmp_path, cluster=None, index=0):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": ROOT}
    env.pop("TF_CONFIG", None)
    if cluster:
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}})
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def _start(args, env):
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _workers(tmp_path, args_for):
    """Start two workers (args_for(index) -> argv); returns the Popen objects."""
    cluster = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    return [_start(args_for(i), _env(tmp_path, cluster, i)) for i in range(2)]


def _finish(procs):
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a multi-worker run did not finish in time")
        outs.append((p.returncode, out, err))
    return outs


def test_two_workers_match_one_worker_and_export_once(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    flags = ["--model=lenet5", "--dataset=digits", "--epochs=1", "--batch_size=32", "--noaugment",
             "--num_train_examples=256", "--num_eval_examples=128", "--verbose=2", "--export_name=mw",
             "--jit_compile=off"]

    def args(out, run_dir, export_dir, strategy="default"):
        return [str(driver), str(out), *flags, f"--run_dir={run_dir}", f"--export_dir={export_dir}",
                f"--strategy={strategy}"]

    single = _start(args(tmp_path / "single.json", tmp_path / "r1", tmp_path / "e1"), _env(tmp_path))
    (code, _, err), = _finish([single])
    assert code == 0, err[-2000:]

    results = _finish(_workers(tmp_path, lambda i: args(tmp_path / f"worker{i}.json", tmp_path / "runs",
                                                         tmp_path / "export", "multi_worker")))
    for code, _, err in results:
        assert code == 0, err[-2000:]
    one = json.loads((tmp_path / "single.json").read_text())
    for i in range(2):
        assert json.loads((tmp_path / f"worker{i}.json").read_text()) == pytest.approx(one, rel=1e-5, abs=1e-6)
    # one export, by the chief; the worker's scratch dir is gone; the chief's run dir holds the history
    assert sorted(os.listdir(tmp_path / "export" / "mw")) == [".export.lock", "1"]
    assert (tmp_path / "export" / "mw" / "1" / "variables" / "variables.index").exists()
    assert f"export_path {tmp_path / 'export' / 'mw' / '1'}" in results[0][1]
    assert "export_path None" in results[1][1]  # a worker's export is scratch
    assert os.listdir(tmp_path / "tmp") == []
    assert json.loads((tmp_path / "runs" / "mw" / "history.json").read_text())["history"]["loss"]
    assert not (tmp_path / "runs" / "mw" / "backup").exists()  # removed once the export landed


def test_a_killed_worker_resumes_with_the_same_command(tmp_path):
    flags = ["-m", "trainers.vanilla", "--model=resnet20", "--width=0.25", "--dataset=digits", "--epochs=3",
             "--batch_size=32", "--noaugment", "--num_train_examples=512", "--num_eval_examples=256",
             "--jit_compile=off", "--verbose=2", "--strategy=multi_worker", f"--run_dir={tmp_path}/runs",
             f"--export_dir={tmp_path}/export", "--export_name=mw"]
    meta = tmp_path / "runs" / "mw" / "backup" / "training_metadata.json"
    procs = _workers(tmp_path, lambda i: flags)
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and procs[0].poll() is None:
        if meta.exists() and json.loads(meta.read_text() or "{}").get("epoch", 0) >= 1:
            break
        time.sleep(0.05)
    procs[1].kill()  # worker 1 dies during epoch 2
    (code, out, err), _ = _finish(procs)
    if code == 0:
        pytest.skip("the chief finished before the kill landed (a slow machine): nothing to resume")
    assert code == 1, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert re.match(r"error: a worker of the multi-worker run stopped \(\w+Error: .+\); the chief's backup holds "
                    r"epoch 1; rerun the same command on every worker to resume$", last), last
    assert not (tmp_path / "export" / "mw" / "1").exists()

    results = _finish(_workers(tmp_path, lambda i: flags))
    for code, _, err in results:
        assert code == 0, err[-2000:]
    chief, worker = results[0][1], results[1][1]
    assert [line.split()[1] for line in chief.splitlines() if line.startswith("Epoch ")] == ["2/3", "3/3"]
    record = json.loads((tmp_path / "runs" / "mw" / "history.json").read_text())
    assert len(record["history"]["loss"]) == 3
    assert [s["start_epoch"] for s in record["provenance"]["sessions"]] == [0, 1]
    # the same model on both workers at the end: same test accuracy (batch-norm statistics averaged)
    accuracy = [re.search(r"test accuracy (\S+)", text).group(1) for text in (chief, worker)]
    assert accuracy[0] == accuracy[1]
    assert sorted(os.listdir(tmp_path / "export" / "mw")) == [".export.lock", "1"]
