"""``python -m trainers --method=<method> --flagfile=...`` (see trainers.cli)."""
from trainers.cli import main

main()
