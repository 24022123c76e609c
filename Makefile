# Every target creates .venv on first use and installs what it needs.
# torch==2.13.0 is the CPU build on this machine's disk; never ask pip for plain torch.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := $(PY) -m pip
STAMP := .venv/.installed

.PHONY: test book bench train study clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test,book]"
	touch $(STAMP)

test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q tests

book: $(STAMP)
	$(PY) -m jupyter_book build book -W -n --keep-going

bench: $(STAMP)
	$(PY) -m gausslib.bench --out data/results/bench

train: $(STAMP)
	$(PY) -m gausslib.train stylegan2 --out data/weights/runs/stylegan2 --resume
	$(PY) -m gausslib.train glow --out data/weights/runs/glow --resume

clean:
	rm -rf book/_build
