"""``python -m eval.leaderboard`` (see eval.leaderboard)."""
from eval.leaderboard.cli import main

main()
