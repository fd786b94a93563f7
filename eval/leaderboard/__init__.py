"""``python -m eval.leaderboard``: every shipped zoo model under one protocol, on one board.

    python -m eval.leaderboard [--models=a,b] [--dataset=../shared/data/cifar10_jpeg/1.0.0] \
        [--clean_examples=10000] [--num_examples=1000] [--trials=N] [--eot=N] [--steps=20,100] \
        [--suites=whitebox,corruption,perturbation_seq,boundary] [--baseline=vanilla_resnet20] \
        [--work_dir=docs/leaderboard/reports] [--markdown=docs/LEADERBOARD.md] [--json=docs/leaderboard.json] \
        [--plots_dir=docs/leaderboard] [--update_cards] [--reproduction=docs/REPRODUCTION.md] \
        [--channels_report=docs/leaderboard/channels/report.json]

Models are ``zoo.list_pretrained()`` (``$ZOO_PRETRAINED_DIR`` overrides the root). Each is evaluated by
eval's own suites into ``<work_dir>/<name>/report.json`` (``eval.leaderboard.protocol``: what each
protocol item maps to), cached by version directory + ``exported_at`` + protocol hash, so a rerun skips
finished models and redoes a model whose export or protocol changed. The board
(``eval.leaderboard.board``) is built from every shipped model with a valid report: one table (noise-off
rows for random models, ``ours (paper)`` cells with the sources of ``eval.leaderboard.papers``), the JSON
with the protocol, per-model seconds and export version/commit, two PNGs with every model's curve, and a
block between ``<!-- leaderboard:begin -->`` / ``<!-- leaderboard:end -->`` in each model's MODEL_CARD.md,
and docs/REPRODUCTION.md: the papers' claims, each checked against the board by a stated rule
(``eval.leaderboard.reproduction``; "not measured yet" while a model or measurement is missing).
Usage errors (an unknown ``--models`` name, a bad flag) print one line and exit with status 2.
"""
from eval.leaderboard.cli import main, run, select_models  # noqa: F401
from eval.leaderboard.protocol import Protocol  # noqa: F401
