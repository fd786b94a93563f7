"""``make bench``: every benchmark in turn (each prints JSON)."""
import subprocess
import sys

for module in ("bench.train_step", "bench.attacks", "bench.corruptions"):
    print(f"# {module}", flush=True)
    subprocess.run([sys.executable, "-m", module], check=True)
