VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -c "import numba" 2>/dev/null || $(PY) -m pip install -q "numba>=0.60" || true
	$(PY) examples/quickstart.py

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) benchmarks/run.py --quick --out benchmarks/results.json
	$(PY) benchmarks/report.py benchmarks/results.json

clean:
	rm -rf $(VENV) build *.egg-info
