"""make bench: oai_stream against the streaming clients people use, side by side in one run.

Creates bench/.venv from bench/requirements.txt (the peers, pinned) when missing, starts the
local benchmark server (bench/server.py), and measures every client interleaved
(A B C ... A B C ...) over several rounds. Writes bench/results.md and bench/results.json.

oai_stream runs twice: as a script (`python oai_stream.py`, compiled at every run, as CPython
does for any script) and from cached bytecode (`python -m oai_stream` with the repository on
PYTHONPATH; a warm-up run writes __pycache__/ first). Beside them, limit_urllib is the least a
urllib client can do, and each round times compiling oai_stream.py in-process, so that the
targets of issue 17 are computed from this run: see targets().

    python3 bench/run.py [--quick] [--rounds N]
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")
PY = os.path.join(VENV, "bin", "python")
sys.path.insert(0, HERE)
from server import BenchServer, Probe, expected_text, token  # noqa: E402

OURS = "oai_stream"
CACHED = "oai_stream (cached: python -m oai_stream)"
LIMIT = "limit_urllib"
SOURCE = os.path.join(ROOT, "oai_stream.py")
COMPILE_RUNS = 7  # compiles per round in one fresh process: the first, then the median of the rest


def ensure_venv() -> None:
    req = os.path.join(HERE, "requirements.txt")
    stamp = os.path.join(VENV, ".requirements.sha256")
    digest = hashlib.sha256(open(req, "rb").read()).hexdigest()
    if os.path.exists(stamp) and open(stamp).read() == digest:
        return
    print("bench: creating bench/.venv with the peers (once)", file=sys.stderr)
    subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([PY, "-m", "pip", "install", "-q", "-r", req])
    with open(stamp, "w") as f:
        f.write(digest)


def clients(url: str, llm_dir: str):
    """name -> function(model) -> argv. Every client runs on the bench venv's Python."""
    c = os.path.join(HERE, "clients")
    jq = ('if startswith("data: {") then (.[6:] | fromjson | .choices[0].delta.content // empty) '
          'else empty end')
    out = {
        OURS: lambda m: [PY, SOURCE, "--base-url", url, "-m", m, "hi"],
        CACHED: lambda m: [PY, "-m", "oai_stream", "--base-url", url, "-m", m, "hi"],  # PYTHONPATH: EXTRA_ENV
        LIMIT: lambda m: [PY, os.path.join(c, "limit_urllib.py"), m],
        "requests+sseclient (tutorial)": lambda m: [PY, os.path.join(c, "tutorial.py"), m],
        "httpx+httpx-sse": lambda m: [PY, os.path.join(c, "httpx_sse_client.py"), m],
        "openai SDK": lambda m: [PY, os.path.join(c, "sdk.py"), m],
        "llm CLI": lambda m: [os.path.join(VENV, "bin", "llm"), "prompt", "--no-log", "-m", m, "hi"],
    }
    if shutil.which("curl") and shutil.which("jq"):
        out["curl | jq"] = lambda m: ["/bin/sh", "-c", (
            "curl -sN %s/chat/completions -H 'Content-Type: application/json' -d '{\"model\":\"%s\","
            "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}' | "
            "jq -j --unbuffered -R '%s'; echo") % (url, m, jq)]
    out["floor (socket to stdout)"] = lambda m: [PY, os.path.join(c, "floor.py"), m]
    baseline = os.environ.get("BENCH_BASELINE")  # an older oai_stream.py, for before/after
    if baseline:
        out["oai_stream (baseline)"] = lambda m: [PY, baseline, "--base-url", url, "-m", m, "hi"]
    return out


EXTRA_ENV = {CACHED: {"PYTHONPATH": ROOT}}  # name -> what its runs add to the environment


def env_for(name: str, env: dict) -> dict:
    return dict(env, **EXTRA_ENV.get(name, {}))


def compile_ms() -> "tuple[float, float]":
    """oai_stream.py's own compile time in ms: (the median of COMPILE_RUNS - 1 compiles after
    the first, the first). The first in a fresh process, which is what the script pays, costs
    several ms more (the compiler's memory is new)."""
    code = ("import statistics, time\n"
            "source = open(%r).read()\n"
            "runs = []\n"
            "for _ in range(%d):\n"
            "    start = time.perf_counter()\n"
            "    compile(source, %r, 'exec')\n"
            "    runs.append(time.perf_counter() - start)\n"
            "print(statistics.median(runs[1:]) * 1000, runs[0] * 1000)\n") % (SOURCE, COMPILE_RUNS, SOURCE)
    median, first = subprocess.check_output([PY, "-c", code]).split()
    return float(median), float(first)


def bytecode_cached() -> bool:
    """Whether the warm-up left a current .pyc for `python -m oai_stream` to load."""
    code = ("import importlib.util, os, sys; pyc = importlib.util.cache_from_source(%r); "
            "sys.exit(0 if os.path.exists(pyc) and os.path.getmtime(pyc) >= os.path.getmtime(%r) else 1)"
            % (SOURCE, SOURCE))
    return subprocess.call([PY, "-c", code]) == 0


def llm_config(url: str, models, directory: str) -> None:
    with open(os.path.join(directory, "extra-openai-models.yaml"), "w") as f:
        for m in models:
            f.write("- model_id: %s\n  model_name: %s\n  api_base: \"%s\"\n" % (m, m, url))


class Spawner:
    """Runs clients from a small process so that wait4() reports each one's own peak RSS."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-S", "-I", os.path.join(HERE, "spawner.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     universal_newlines=True)
        self.tmp = tempfile.mkdtemp(prefix="oai-bench-")

    def run(self, argv, env):
        out, err = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "err")
        self.proc.stdin.write(json.dumps({"argv": argv, "env": env, "stdout": out, "stderr": err}) + "\n")
        self.proc.stdin.flush()
        result = json.loads(self.proc.stdout.readline())
        with open(out, "rb") as f:
            result["out"] = f.read()
        with open(err, "rb") as f:
            result["err"] = f.read()[-500:].decode("utf-8", "replace")
        return result

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def check(name: str, out: bytes, n: int) -> bool:
    if name.startswith("floor"):
        return out.count(b'"content":" t') == n  # raw bytes: every token went through
    return out.decode("utf-8", "replace").rstrip("\n") == expected_text(n)


def latency(argv, env, server: BenchServer, n: int):
    """Per-token delivery latency: the server sends a token and waits until stdout shows it."""
    probe = server.probe = Probe(n)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=env)
    fd, buf, pos, i = proc.stdout.fileno(), b"", 0, 0
    marks = [token(k).encode() for k in range(n)]
    while i < n:
        data = os.read(fd, 65536)
        now = time.perf_counter()
        if not data:
            break
        buf += data
        while i < n:
            at = buf.find(marks[i], pos)
            if at < 0:
                break
            pos = at + len(marks[i])
            probe.seen(i, now)
            i += 1
    proc.stdout.read()
    proc.wait()
    if i < n:
        return None
    return [(probe.seen_at[k] - probe.sent[k]) * 1e6 for k in range(5, n)]  # µs, after warm-up


def med(values):
    return statistics.median(values) if values else None


def spread(values, scale=1.0, fmt="%.0f"):
    """median (min–max), or the one value of a single round."""
    if not values:
        return "—"
    v = [x * scale for x in values]
    if len(v) == 1:
        return fmt % v[0]
    return (fmt + " (" + fmt + "–" + fmt + ")") % (statistics.median(v), min(v), max(v))


def cell(text):
    return text.replace("|", "\\|")  # a Markdown table cell


def ratio(ours, theirs):
    """Median over rounds of oai_stream's figure divided by the client's, same round."""
    pairs = [a / b for a, b in zip(ours, theirs) if a and b]
    return ("%.2f×" % statistics.median(pairs)) if pairs else "—"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer rounds, smaller sizes")
    ap.add_argument("--rounds", type=int)
    args = ap.parse_args()
    ensure_venv()
    rounds = args.rounds or (2 if args.quick else 5)
    big_rss = 50000 if args.quick else 200000
    rss_rounds = 1 if args.quick else 2
    probe_n = 100 if args.quick else 300
    decoder_mb = 10 if args.quick else 50

    server = BenchServer()
    llm_dir = tempfile.mkdtemp(prefix="oai-bench-llm-")
    models = ["bench-n1", "bench-n20000", "bench-n1000", "bench-n%d" % big_rss,
              "bench-probe-n%d" % probe_n]
    llm_config(server.url, models, llm_dir)
    server.prepare(models)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "LANG": "C.UTF-8", "OPENAI_API_KEY": "unused-by-local-server", "LLM_USER_PATH": llm_dir,
           "NO_PROXY": "*", "BENCH_URL": server.url}
    table = clients(server.url, llm_dir)
    names = list(table)
    spawner = Spawner()
    res = {name: {"cold_wall": [], "cold_cpu": [], "cold_rss": [], "big_wall": [], "big_cpu": [],
                  "big_rss": [], "lat": [], "rss_small": [], "rss_big": [], "wrong": []} for name in names}
    compile_runs = []  # ms, (median, first) per round

    def measure(name, model, n, wall_key, cpu_key=None, rss_key=None):
        r = spawner.run(table[name](model), env_for(name, env))
        if r["status"] != 0 or not check(name, r["out"], n):
            res[name]["wrong"].append("%s: exit %s, %r..., %s" % (model, r["status"], r["out"][:80], r["err"][-200:]))
            return
        if wall_key:
            res[name][wall_key].append(r["wall"])
        if cpu_key:
            res[name][cpu_key].append(r["cpu"])
        if rss_key:
            res[name][rss_key].append(r["maxrss_kb"] / 1024.0)

    started = time.time()
    for name in names:  # warm the page cache and the server's payload cache; writes the .pyc
        spawner.run(table[name]("bench-n1"), env_for(name, env))
    if not bytecode_cached():
        print("bench: no cached bytecode after the warm-up (is %s writable?): the %r row "
              "compiles at each run" % (os.path.join(ROOT, "__pycache__"), CACHED), file=sys.stderr)
    for rnd in range(rounds):
        print("bench: round %d of %d" % (rnd + 1, rounds), file=sys.stderr)
        for name in names:
            measure(name, "bench-n1", 1, "cold_wall", "cold_cpu", "cold_rss")
        compile_runs.append(compile_ms())
        for name in names:
            measure(name, "bench-n20000", 20000, "big_wall", "big_cpu", "big_rss")
        for name in names:
            samples = latency(table[name]("bench-probe-n%d" % probe_n), env_for(name, env), server, probe_n)
            if samples is None:
                res[name]["wrong"].append("latency probe: not every token was seen")
            else:
                res[name]["lat"].append(samples)
    for rnd in range(rss_rounds):
        print("bench: peak RSS, round %d of %d" % (rnd + 1, rss_rounds), file=sys.stderr)
        for name in names:
            measure(name, "bench-n1000", 1000, None, None, "rss_small")
            measure(name, "bench-n%d" % big_rss, big_rss, None, None, "rss_big")
    spawner.close()
    server.close()
    print("bench: decoders in-process (%d MB)" % decoder_mb, file=sys.stderr)
    dec = json.loads(subprocess.check_output([PY, os.path.join(HERE, "decoders.py"),
                                              str(decoder_mb), str(3 if not args.quick else 1)]))
    shutil.rmtree(llm_dir, ignore_errors=True)
    elapsed = time.time() - started
    report(res, dec, names, rounds, big_rss, probe_n, elapsed, args.quick, compile_runs)
    return 0


def versions():
    out = subprocess.check_output([PY, "-m", "pip", "freeze"], universal_newlines=True)
    keep = ("openai==", "httpx==", "httpx-sse==", "sseclient-py==", "requests==", "llm==")
    peers = [l for l in out.splitlines() if l.startswith(keep)]
    for tool in ("curl", "jq"):
        if shutil.which(tool):
            v = subprocess.run([tool, "--version"], stdout=subprocess.PIPE, universal_newlines=True).stdout
            peers.append(v.split("\n")[0].split(" (")[0])
    return peers


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def floor_of(decoder: str) -> str:
    return "floor: split on blank lines + json.loads" if "json" in decoder else "floor (split only)"


def decoder_ratio(ours, theirs, size):
    """Median over rounds of one decoder's throughput divided by another's, same round."""
    return statistics.median(a["mb_s"] / b["mb_s"] for a, b in zip(ours[size], theirs[size]))


def paired(a, b, how):
    """Median over rounds of how(a, b), each pair from the same round; None when missing."""
    pairs = [how(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    return statistics.median(pairs) if pairs else None


def targets(res, dec, compile_runs):
    """Issue 17's targets, computed from this run (each figure a median of same-round values)."""
    ours, cached, limit = res[OURS], res[CACHED], res[LIMIT]

    def row(what, measured, met):
        return "| %s | %s | %s |" % (what, measured, "—" if met is None else "yes" if met else "no")

    wall = paired(cached["cold_wall"], limit["cold_wall"], lambda a, b: a / b)
    rss = paired(cached["cold_rss"], limit["cold_rss"], lambda a, b: a - b)
    compile_median = [median for median, first in compile_runs]
    over = paired(list(zip(ours["cold_wall"], compile_median)), limit["cold_wall"],
                  lambda a, b: (a[0] - b) * 1000 - a[1])  # ms beyond limit_urllib + compile
    lines = ["Targets (issue 17), from this run:", "", "| target | measured | met? |", "|---|---|---|",
             row("from cached bytecode, 1-token wall ≤ 1.05× limit_urllib",
                 "%.3f× (%s vs %s ms)" % (wall, spread(cached["cold_wall"], 1000), spread(limit["cold_wall"], 1000))
                 if wall else "—", wall is not None and wall <= 1.05),
             row("from cached bytecode, 1-token peak RSS ≤ limit_urllib + 0.5 MB",
                 "%+.2f MB (%s vs %s MB)" % (rss, spread(cached["cold_rss"], 1, "%.1f"),
                                             spread(limit["cold_rss"], 1, "%.1f")) if rss is not None else "—",
                 rss is not None and rss <= 0.5),
             row("as a script, 1-token wall ≤ limit_urllib + its compile time + 3 ms",
                 "%+.1f ms beyond limit_urllib + compile (%s vs %s ms; compile %s ms, the first in a "
                 "fresh process %s ms)" % (
                     over, spread(ours["cold_wall"], 1000), spread(limit["cold_wall"], 1000),
                     spread(compile_median, 1, "%.1f"), spread([first for median, first in compile_runs], 1, "%.1f"))
                 if over is not None else "—", over is not None and over <= 3.0)]
    results = dec["results"]
    json_ours, json_floor = results.get("oai_stream + json.loads"), results[floor_of("json")]
    for size, label, goal in (("16384", "16 KiB", 0.9), ("64", "64-byte", 1.1)):
        got = decoder_ratio(json_ours, json_floor, size) if json_ours else None
        lines.append(row("decoder + json.loads, %s pieces ≥ %.1f× the floor" % (label, goal),
                         "%.2f×" % got if got is not None else "—", got is not None and got >= goal))
    if "oai_stream (baseline)" in results:  # BENCH_BASELINE: the loss against 1.0 recovered?
        for size, label in (("16384", "16 KiB"), ("64", "64-byte")):
            got = decoder_ratio(results["oai_stream"], results["oai_stream (baseline)"], size)
            lines.append(row("decoder alone, %s pieces, ≥ 1.00× the baseline's" % label, "%.2f×" % got, got >= 1.0))
    return lines


def report(res, dec, names, rounds, big_rss, probe_n, elapsed, quick, compile_runs):
    oai = res[OURS]
    py = subprocess.check_output([PY, "-c", "import sys; print(sys.version.split()[0])"],
                                 universal_newlines=True).strip()
    lines = [
        "Measured %s on %s, %d cores, Linux %s, CPython %s; %d rounds%s, interleaved; "
        "median (min–max); ratio = oai_stream ÷ client, median of per-round ratios (< 1: "
        "oai_stream is better). Peers: %s." % (
            time.strftime("%Y-%m-%d"), cpu_model(), os.cpu_count(), platform.release(), py, rounds,
            " (--quick)" if quick else "", ", ".join(versions())),
        "",
        "| client | 1-token wall ms | 1-token CPU ms | 1-token peak RSS MB | ratio wall | 20k tokens wall s | CPU s | tokens/s | ratio wall | ratio CPU | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        r = res[name]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            cell(name), spread(r["cold_wall"], 1000), spread(r["cold_cpu"], 1000),
            spread(r["cold_rss"], 1, "%.1f"), ratio(oai["cold_wall"], r["cold_wall"]),
            spread(r["big_wall"], 1, "%.2f"), spread(r["big_cpu"], 1, "%.2f"),
            "%.0f" % (20000 / med(r["big_wall"])) if r["big_wall"] else "—",
            ratio(oai["big_wall"], r["big_wall"]), ratio(oai["big_cpu"], r["big_cpu"]),
            spread(r["big_rss"], 1, "%.1f")))
    lines += ["", "| client | latency p50 µs | latency p99 µs | ratio p50 | peak RSS 1k tokens MB | peak RSS %dk tokens MB | growth MB |" % (big_rss // 1000),
              "|---|---|---|---|---|---|---|"]
    for name in names:
        r = res[name]
        p50 = [statistics.median(s) for s in r["lat"]]
        p99 = [sorted(s)[int(len(s) * 0.99) - 1] for s in r["lat"]]
        o50 = [statistics.median(s) for s in oai["lat"]]
        growth = (med(r["rss_big"]) - med(r["rss_small"])) if r["rss_big"] and r["rss_small"] else None
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            cell(name), spread(p50), spread(p99), ratio(o50, p50), spread(r["rss_small"], 1, "%.1f"),
            spread(r["rss_big"], 1, "%.1f"), "%.1f" % growth if growth is not None else "—"))
    lines += ["", "Decoders, in-process, %.0f MB of OpenAI chunks (%d events). Above the line the "
              "decoders alone, against a floor that only splits on LF; below it each event's data "
              "also goes through json.loads, against a floor that splits on blank lines and "
              "json.loads each data: line. ÷ floor: median of same-round ratios." % (
                  dec["bytes"] / 1e6, dec["events"]), "",
              "| decoder | 16 KiB pieces MB/s | events/s | ÷ floor | 64-byte pieces MB/s | events/s | ÷ floor |",
              "|---|---|---|---|---|---|---|"]
    for name, by_size in dec["results"].items():
        floor = dec["results"][floor_of(name)]
        if name == "oai_stream + json.loads":
            lines.append("| *with json.loads* | | | | | | |")
        cells = []
        for size in ("16384", "64"):
            runs = by_size[size]
            if not all(x["ok"] for x in runs):
                cells += ["WRONG OUTPUT", "", ""]
                continue
            mb = [x["mb_s"] for x in runs]
            cells += [spread(mb, 1, "%.0f"), "%.0f" % med([x["events_s"] for x in runs]),
                      "%.2f" % decoder_ratio(by_size, floor, size)]
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    lines += [""] + targets(res, dec, compile_runs)
    wrong = {n: r["wrong"] for n, r in res.items() if r["wrong"]}
    if wrong:
        lines += ["", "Flagged (wrong output or failure, not timed):"]
        for n, w in wrong.items():
            lines.append("- %s: %d runs, e.g. %s" % (n, len(w), w[0]))
    lines += ["", "Whole run: %.0f s." % elapsed]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump({"clients": res, "decoders": dec, "rounds": rounds, "quick": quick}, f)


if __name__ == "__main__":
    sys.exit(main())
