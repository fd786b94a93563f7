"""Peak memory of an evaluation (issue 10, item 5): peak RSS of ``python -m eval`` as a user runs it. Prints JSON.

    .venv/bin/python -m bench.memory [--model=vanilla_resnet20] [--suite=corruption] [--num_examples=10000]
                                     [--src=<a checkout, e.g. a git worktree of an older commit>]

Runs the command in a child process (from ``--src``, default this checkout, so an older commit's code can be
measured with the same interpreter and data) and reads the child's peak resident set size from
``getrusage(RUSAGE_CHILDREN)``; CIFAR-10-C is generated into a fresh cache directory, so the generation is
part of the run, as on a first evaluation. BUILD.md section 10 quotes one run before and after streaming.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "cifar10_jpeg", "1.0.0")


def git_commit(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vanilla_resnet20")
    parser.add_argument("--suite", default="corruption")
    parser.add_argument("--num_examples", type=int, default=10000)
    parser.add_argument("--dataset", default=DEFAULT_DATA)
    parser.add_argument("--src", default=ROOT, help="the checkout whose code runs (default: this one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    from zoo.machine import cpu_model

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if not os.path.isabs(model) and os.path.isdir(os.path.join(ROOT, model)):
            model = os.path.join(ROOT, model)
        command = [sys.executable, "-m", "eval", f"--model={model}", f"--suite={args.suite}",
                   f"--dataset={args.dataset}", f"--num_examples={args.num_examples}",
                   f"--report_dir={tmp}/report", f"--cache_dir={tmp}/cache"]
        started = time.time()
        done = subprocess.run(command, cwd=args.src, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                              capture_output=True, text=True)
        seconds = time.time() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    result = {"command": " ".join(command[1:]), "src_commit": git_commit(args.src), "exit_code": done.returncode,
              "peak_rss_mb": round(peak_kb / 1024, 1), "seconds": round(seconds, 1), "cpu": cpu_model(),
              "cpu_count": os.cpu_count()}
    if done.returncode:
        result["stderr_tail"] = done.stderr[-1500:]
    print(json.dumps(result, indent=1))
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
