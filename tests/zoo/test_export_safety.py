"""Exports under crashes and concurrency (issue 10, item 2d): stale temporary versions are cleaned, two exports
started together both land, on consecutive versions."""
import json
import os
import subprocess
import sys
import textwrap

import zoo
from zoo.export import versions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_stale_temporary_versions_are_removed_by_the_next_export(tmp_path):
    model_dir = tmp_path / "m"
    stale = model_dir / ".tmp-1-4242-deadbeef"  # what a kill -9 during write_out leaves
    (stale / "variables").mkdir(parents=True)
    (stale / "saved_model.pb").write_bytes(b"partial")
    path = zoo.export(zoo.create("lenet5", input_shape=(8, 8, 1)), str(tmp_path), name="m")
    assert path.endswith(os.path.join("m", "1"))
    assert sorted(os.listdir(model_dir)) == [".export.lock", "1"]


def test_two_exports_started_together_land_on_consecutive_versions(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {ROOT!r})
        import zoo
        model = zoo.create("lenet5", input_shape=(8, 8, 1))
        while time.time() < float(sys.argv[1]):  # both processes start writing at the same instant
            time.sleep(0.001)
        print(json.dumps(zoo.export(model, {str(tmp_path)!r}, name="race")))
    """)
    import time
    start_at = str(time.time() + 12)  # after both TensorFlow imports
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [subprocess.Popen([sys.executable, "-c", script, start_at], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    paths = sorted(json.loads(out.strip().splitlines()[-1]) for out, _ in outs)
    assert [os.path.basename(p) for p in paths] == ["1", "2"]
    assert versions(str(tmp_path / "race")) == [1, 2]
    for p in paths:
        assert os.path.isfile(os.path.join(p, "variables", "variables.index"))
    assert not [e for e in os.listdir(tmp_path / "race") if e.startswith(".tmp-")]
