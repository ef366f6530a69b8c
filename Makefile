# Every target bootstraps .venv when it is missing. torch is pinned to the CPU
# wheel and installed FIRST so that no dependency resolution can pull a CUDA build.
PY      ?= python3
VENV    ?= .venv
BIN      = $(VENV)/bin
TORCH   ?= torch==2.13.0
STAMP    = $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/igebm demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q --no-deps ebmkit==0.16.0 torchebm==0.8.9 torchattacks==3.5.1  # need only torch (and numpy/scipy/tqdm) here; torchattacks imports without torchvision
	$(BIN)/python -m pip install -q -e ".[hand]"  # MuJoCo for the robot-hand trajectories
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
