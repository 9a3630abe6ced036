# make demo: install what is needed and run the seed walkthrough; make test: install and run the whole suite.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test bench
setup:
	@command -v dot >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz; }
	$(PYTHON) -m pip install -q -e '.[test]'

demo: setup
	$(PYTHON) demos/seed_example.py

test: setup
	$(PYTHON) -m pytest

# the anchors: micrograd from PyPI, and PyTorch (CPU; install it yourself, e.g. pip install torch)
bench: setup
	$(PYTHON) -m pip install -q micrograd==0.1.0
	$(PYTHON) benchmarks/scalar.py
	$(PYTHON) benchmarks/tensor.py
