"""make bench-concurrency: N paced streams at once, oai_stream.astream() against the peers.

Starts bench/aserver.py (asyncio, standard library only: 200 tokens 20 ms apart per stream)
and runs each client of bench/clients/many_*.py in its own process at N = 1, 100 and 1,000
concurrent streams, interleaved over a few rounds. Every client prints one JSON line (see
bench/clients/many_streams.py); this harness checks each stream's text exactly, asks the
server how late its sends were, and writes bench/concurrency.md and bench/concurrency.json.

Published figures say their conditions. When other work keeps the machine busy, the client is
scheduled late and finds many streams' tokens waiting at each wake-up, so its CPU per token drops
(astream() at 1,000 streams on 2 cores: 0.011 CPU s per 1k tokens busy, ~0.021 quiet). So every
row shows the server's lateness (p99) and the other work on the machine during the run (cores
busy, from /proc/stat, minus the client's and the server's own CPU), and the report says which
runs were quiet: other work at most QUIET_OTHER_CORES.
Uses bench/.venv (created by bench/run.py's ensure_venv from bench/requirements.txt).

    python3 bench/concurrency.py [--quick] [--rounds N]
"""

import argparse
import collections
import hashlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
from run import HERE, PY, cell, cpu_model, ensure_venv, spread  # noqa: E402
from server import expected_text  # noqa: E402
from clients.many_streams import raise_nofile  # noqa: E402

OURS = "oai_stream astream()"
CLIENTS = {  # name -> script in bench/clients
    OURS: "many_astream.py",
    "openai AsyncOpenAI": "many_sdk.py",
    "httpx + httpx-sse": "many_httpx_sse.py",
    "oai_stream stream() + threads": "many_threads.py",
}
SDK, HTTPX = "openai AsyncOpenAI", "httpx + httpx-sse"
COUNTS = (1, 100, 1000)
PACE_MS = 20
RUN_TIMEOUT = 300  # seconds for one client run; a hung peer is a figure, not a hung benchmark
QUIET_OTHER_CORES = 0.2  # other processes' CPU during a run, in cores: up to this, a quiet run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: one round of 100-token streams")
    ap.add_argument("--rounds", type=int)
    args = ap.parse_args()
    ensure_venv()
    rounds = args.rounds or (1 if args.quick else 3)
    tokens = 100 if args.quick else 200
    model = "bench-n%d-p%d" % (tokens, PACE_MS)
    want = hashlib.md5(expected_text(tokens).encode()).hexdigest()
    raise_nofile(4 * max(COUNTS) + 256)  # inherited by the server and the clients

    started = time.time()
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "aserver.py")], stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        url = server.stdout.readline().strip()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
               "LANG": "C.UTF-8", "NO_PROXY": "*"}
        runs = {name: {n: [] for n in COUNTS} for name in CLIENTS}
        names = list(CLIENTS)
        for rnd in range(rounds):
            for n in COUNTS:
                print("bench: round %d of %d, %d streams" % (rnd + 1, rounds, n), file=sys.stderr)
                for name in names[rnd % len(names):] + names[:rnd % len(names)]:  # rotate who goes first
                    server_stats(url)  # reset
                    before = machine_cpu()
                    r = run_client(name, url, model, n, env)
                    r["server"] = server_stats(url)
                    r["other_cores"] = other_cores(before, machine_cpu(), r["server"].get("cpu_s", 0.0))
                    r.update(summary(r, n, tokens, want))
                    runs[name][n].append(r)
    finally:
        server.terminate()
        server.wait()
    report(runs, rounds, tokens, args.quick, time.time() - started)
    return 0


def run_client(name: str, url: str, model: str, n: int, env: dict) -> dict:
    argv = [PY, os.path.join(HERE, "clients", CLIENTS[name]), url, model, str(n)]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=RUN_TIMEOUT, universal_newlines=True)
    except subprocess.TimeoutExpired:
        return {"failed": "no answer within %d s" % RUN_TIMEOUT}
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        return {"failed": "exit %d: %s" % (p.returncode, p.stderr.strip()[-300:])}
    return json.loads(lines[-1])


def machine_cpu() -> tuple:
    """(wall, CPU seconds the whole machine was busy, CPU seconds of our finished children)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), children.ru_utime + children.ru_stime)


def other_cores(before: tuple, after: tuple, server_cpu: float) -> float:
    """Cores kept busy by anything but the client (whole process, imports too) and the server."""
    wall, busy, client = (b - a for a, b in zip(before, after))
    return max(0.0, busy - client - server_cpu) / wall


def server_stats(url: str) -> dict:
    with urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats", timeout=10) as r:
        return json.loads(r.read())


def percentile(values: list, q: float) -> "float | None":
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def summary(r: dict, n: int, tokens: int, want: str) -> dict:
    """One run's figures; the raw per-stream lists stay out of concurrency.json."""
    if "failed" in r:
        return {"exact": 0}
    ttft = r.pop("ttft_s")
    digests = r.pop("digests")
    errors = collections.Counter()  # type: collections.Counter
    for key, count in digests.items():
        if key != want:
            errors[key if key.startswith("error: ") else "wrong text"] += count
    return {
        "exact": digests.get(want, 0),
        "errors": errors,
        "cpu_per_1k": r["cpu_s"] / (n * tokens / 1000.0),
        "rss_mb": r["peak_rss_kb"] / 1024.0,
        "kb_per_stream": (r["peak_rss_kb"] - r["rss_ready_kb"]) / n,
        "ttft_p50_ms": percentile(ttft, 0.5) * 1000 if ttft else None,
        "ttft_p99_ms": percentile(ttft, 0.99) * 1000 if ttft else None,
        "ttft_max_ms": max(ttft) * 1000 if ttft else None,
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def figures(runs: list, key: str) -> list:
    return [r[key] for r in runs if r.get(key) is not None]


def ratio(ours: list, theirs: list, key: str) -> "float | None":
    """Median over rounds of ours ÷ theirs, each pair from the same round."""
    pairs = [a[key] / b[key] for a, b in zip(ours, theirs) if a.get(key) and b.get(key)]
    return statistics.median(pairs) if pairs else None


def fmt_ratio(x: "float | None") -> str:
    return "%.2f×" % x if x is not None else "—"


def versions() -> list:
    return [v for v in run.versions() if v.startswith(("openai==", "httpx==", "httpx-sse=="))]


def quiet(r: dict) -> bool:
    return r.get("other_cores", 1.0) <= QUIET_OTHER_CORES


def conditions(runs: dict) -> list:
    """Which runs were quiet, and astream's CPU per token at the most streams under each condition."""
    big = max(COUNTS)
    every = [r for rs in runs.values() for n in COUNTS for r in rs[n] if "other_cores" in r]
    out = ["Conditions: %d of %d runs quiet (other work ≤ %.1f cores; over all runs %s cores). On a "
           "busy machine CPU per token drops (the client wakes late and reads many streams' tokens "
           "at once): compare figures from quiet runs." % (
               sum(map(quiet, every)), len(every), QUIET_OTHER_CORES,
               spread([r["other_cores"] for r in every], 1, "%.2f"))]
    for label, keep in (("quiet", True), ("busy", False)):
        cells = []
        for name in CLIENTS:
            cpu = [r["cpu_per_1k"] for r in runs[name][big] if quiet(r) == keep and r.get("cpu_per_1k")]
            if cpu:
                cells.append("%s %s" % (name, spread(cpu, 1, "%.3f")))
        if cells:
            out.append("- CPU s / 1k tokens at %d streams, %s runs: %s." % (big, label, "; ".join(cells)))
    return out


def report(runs: dict, rounds: int, tokens: int, quick: bool, elapsed: float) -> None:
    py = subprocess.check_output([PY, "-c", "import sys; print(sys.version.split()[0])"],
                                 universal_newlines=True).strip()
    ideal = (tokens - 1) * PACE_MS / 1000.0
    lines = [
        "Measured %s on %s, %d cores, Linux %s, CPython %s; %d round%s%s, clients interleaved; "
        "each stream %d tokens %d ms apart (%.2f s). Median over rounds (min–max); ratio = "
        "oai_stream astream() ÷ client, median of same-round ratios (< 1: astream is better). "
        "CPU = user+sys of the client process while streaming (imports excluded); peak RSS = "
        "the client's VmHWM; per stream = (peak − RSS before the streams) ÷ N (at N = 1 that is mostly first-use setup, so not shown); first token = "
        "from each stream's request start to its first text. Peers: %s." % (
            time.strftime("%Y-%m-%d"), cpu_model(), os.cpu_count(), platform.release(), py, rounds,
            "s" if rounds > 1 else "", " (--quick)" if quick else "", tokens, PACE_MS, ideal,
            ", ".join(versions())),
        "",
        "| N | client | exact streams | CPU s / 1k tokens | peak RSS MB | KB / stream | first token p50 ms "
        "| p99 ms | wall s | ratio CPU | ratio RSS | ratio p99 | server late p99 ms | other work, cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in COUNTS:
        for name in CLIENTS:
            rs, ours = runs[name][n], runs[OURS][n]
            lines.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                n, cell(name), "%d/%d" % (min(r["exact"] for r in rs), n),
                spread(figures(rs, "cpu_per_1k"), 1, "%.3f"), spread(figures(rs, "rss_mb"), 1, "%.1f"),
                spread(figures(rs, "kb_per_stream"), 1, "%.0f") if n > 1 else "—", spread(figures(rs, "ttft_p50_ms"), 1, "%.1f"),
                spread(figures(rs, "ttft_p99_ms"), 1, "%.1f"), spread(figures(rs, "wall_s"), 1, "%.2f"),
                fmt_ratio(ratio(ours, rs, "cpu_per_1k")), fmt_ratio(ratio(ours, rs, "rss_mb")),
                fmt_ratio(ratio(ours, rs, "ttft_p99_ms")),
                spread([r["server"]["late_ms_p99"] for r in rs if r.get("server", {}).get("sends")], 1, "%.1f"),
                spread([r["other_cores"] for r in rs if "other_cores" in r], 1, "%.2f")))
    lines += [""] + conditions(runs)

    big = max(COUNTS)
    ours = runs[OURS][big]
    exact = all(r["exact"] == big for r in ours)
    lines += ["", "Targets at %d streams (a ratio target counts only if astream was exact too):" % big, "",
              "| target | measured | met |", "|---|---|---|",
              "| astream completes every stream with exact text | %s of %d, per round | %s |" % (
                  ", ".join(str(r["exact"]) for r in ours), big, "yes" if exact else "NO")]
    for what, peer, key, limit in [("CPU per token ≤ 1/3 of AsyncOpenAI's", SDK, "cpu_per_1k", 1 / 3.0),
                                   ("peak RSS ≤ 1/2 of AsyncOpenAI's", SDK, "rss_mb", 0.5),
                                   ("first-token p99 ≤ httpx-sse's", HTTPX, "ttft_p99_ms", 1.0)]:
        got = ratio(ours, runs[peer][big], key)
        lines.append("| %s | %s | %s |" % (what, fmt_ratio(got), "yes" if exact and got is not None
                                            and got <= limit else "NO"))

    priority = {r["server"].get("priority") for rs in runs.values() for n in COUNTS for r in rs[n]}
    lines += ["", "The server (bench/aserver.py, one asyncio process, %s): how late its paced sends "
              "were, p50 / p99 / max ms, and its CPU seconds, median over rounds; it is not the "
              "bottleneck while these stay well under the %d ms pace." % (" or ".join(sorted(priority)), PACE_MS), "",
              "| N | " + " | ".join(cell(c) for c in CLIENTS) + " |", "|---|" + "---|" * len(CLIENTS)]
    for n in COUNTS:
        row = []
        for name in CLIENTS:
            s = [r["server"] for r in runs[name][n] if r.get("server", {}).get("sends")]
            row.append("%.1f / %.1f / %.1f ms, %.2f s CPU" % (
                statistics.median(x["late_ms_p50"] for x in s), statistics.median(x["late_ms_p99"] for x in s),
                max(x["late_ms_max"] for x in s), statistics.median(x["cpu_s"] for x in s)) if s else "—")
        lines.append("| %d | %s |" % (n, " | ".join(row)))

    failed = ["- %s, %d streams: %s" % (name, n, r.get("failed") or r["errors"])
              for name in CLIENTS for n in COUNTS for r in runs[name][n] if r.get("failed") or r.get("errors")]
    failed += ["- %s, %d streams: only %d files may be open (RLIMIT_NOFILE)" % (name, n, r["nofile"])
               for name in CLIENTS for n in COUNTS for r in runs[name][n] if r.get("nofile", n + 64) < n + 64]
    if failed:
        lines += ["", "Failures and inexact streams:"] + failed
    lines += ["", "Whole run: %.0f s." % elapsed]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(HERE, "concurrency.md"), "w") as f:
        f.write(text)
    with open(os.path.join(HERE, "concurrency.json"), "w") as f:
        json.dump({"runs": runs, "rounds": rounds, "tokens": tokens, "pace_ms": PACE_MS, "quick": quick},
                  f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
