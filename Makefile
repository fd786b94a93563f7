# Two commands do all set-up: `make quickstart` and `make test`.
# Both create ./.venv and install the package on first use.
# GPU machines: `make EXTRA=gpu test` installs tensorflow[and-cuda] instead of tensorflow-cpu.
PYTHON ?= python3
EXTRA ?= cpu
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(EXTRA)

.PHONY: quickstart test bench bench-peers bench-attack-peers leaderboard install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRA),test]"
	# TF Serving's request protos (warm-up records, tests); --no-deps: its metadata requires the full
	# `tensorflow` package, which would be installed over tensorflow-cpu (see setup.cfg)
	$(PY) -m pip install --quiet --no-deps "tensorflow-serving-api==2.21.*"
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(PY) -m examples.quickstart

# Two pytest workers, each test file on one worker (module fixtures are built once): a TensorFlow process keeps
# only about 1.1 of 2 cores busy, so two halve the wall time (BUILD.md section 9). PYTEST_ARGS= runs serially.
PYTEST_ARGS ?= -n 2 --dist loadfile
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run_all

# The same-run peer of bench/train_step.py: the official PNI code (../shared/peers/CVPR_2019_PNI) needs
# PyTorch, which is not a project dependency; it gets its own venv (torch 2.13.0 CPU, from the local wheel).
PEERS := .venv-peers
$(PEERS)/.installed:
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet torch==2.13.0 numpy
	touch $@

bench-peers: $(STAMP) $(PEERS)/.installed
	$(PY) -m bench.train_step --peer=$(PEERS)/bin/python $(ARGS)

# The same-run peers of bench/autoattack.py (AutoAttack: ours vs torchattacks vs ART; 1,000 images take hours):
# torchattacks 3.5.1 joins the torch venv above; ART 1.20.1 gets its own venv with TensorFlow 2.21 and Keras 3
# (multiprocess: ART's AutoAttack imports it, but only ART's "non-framework" extra declares it).
ART_VENV := .venv-art
$(PEERS)/.installed-torchattacks: $(PEERS)/.installed
	$(PEERS)/bin/python -m pip install --quiet torch==2.13.0 torchattacks==3.5.1
	touch $@

$(ART_VENV)/.installed:
	test -x $(ART_VENV)/bin/python || $(PYTHON) -m venv $(ART_VENV)
	$(ART_VENV)/bin/python -m pip install --quiet "tensorflow-cpu==2.21.*" "keras>=3,<4" \
		adversarial-robustness-toolbox==1.20.1 multiprocess
	touch $@

bench-attack-peers: $(STAMP) $(PEERS)/.installed-torchattacks $(ART_VENV)/.installed
	$(PY) -m bench.autoattack --peers --torch_python=$(PEERS)/bin/python --art_python=$(ART_VENV)/bin/python $(ARGS)

# Every shipped model under one protocol (hours on 2 cores; cached per model, rerun to resume):
# docs/LEADERBOARD.md, docs/leaderboard.json, docs/leaderboard/*.png and each model card's numbers.
# LEADERBOARD_PRESET= (empty) runs the default protocol: EOT 8 and 5 trials for random models.
LEADERBOARD_PRESET ?= configs/leaderboard/cpu.cfg
leaderboard: $(STAMP)
	$(PY) -m eval.leaderboard $(if $(LEADERBOARD_PRESET),--flagfile=$(LEADERBOARD_PRESET)) $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
