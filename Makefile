# Two commands on any machine with a Python >= 3.12 (found by tools/find-python):
#   make lab    open the book in JupyterLab (LAB_ARGS="--no-browser --ip=127.0.0.1" on a server)
#   make test   run every test: the unit tests, each notebook under nbval, the browser tests
# and also: make book (the web book in _build/html), make bench (the speed table).
# Each makes .venv once and installs the pinned requirements into it (again only when
# requirements.txt or pyproject.toml change). PYTEST_ARGS / BENCH_ARGS pass options on.

VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: lab test book bench venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@PY=$$(tools/find-python) && echo "using $$PY" && \
	  { [ -x $(VENV)/bin/python ] || "$$PY" -m venv $(VENV) || { echo "$$PY cannot make a venv (Debian/Ubuntu: apt-get install python3.12-venv)" >&2; exit 1; }; }
	$(VENV)/bin/pip install -q -r requirements.txt -e .
	@touch $@

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

book: $(STAMP)
	$(VENV)/bin/python -m book build

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks $(BENCH_ARGS)
