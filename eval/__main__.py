"""``python -m eval --model=exported_models/<name>/<version> --suite=whitebox ...`` (see eval.cli)."""
from eval.cli import main

main()
