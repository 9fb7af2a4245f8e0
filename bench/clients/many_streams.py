"""Shared by the concurrency clients (many_*.py): open N streams at once, print one JSON line.

    python bench/clients/many_astream.py URL MODEL N

Each client only says how to open one stream that yields text; this module runs N of them
(asyncio tasks or threads), times each from the moment its request starts, and prints:
cpu_s (user+sys of this process while streaming; imports and interpreter start excluded),
wall_s, rss_ready_kb (VmRSS just before the streams start), peak_rss_kb (VmHWM at exit),
ttft_s (per stream: request start to first non-empty text) and digests (md5 of each stream's
whole text -> count; a failed stream counts under "error: ..."), which the harness checks.
"""

import collections
import hashlib
import json
import os
import resource
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, AsyncIterable, Callable, Iterable, Optional

FDS_PER_STREAM = 2  # a socket, plus slack for the peers' own pipes and selectors


class Tally:
    def __init__(self) -> None:
        self.ttft = []  # type: list
        self.texts = []  # type: list
        self.lock = threading.Lock()  # the thread client appends from many threads

    def add(self, ttft: "Optional[float]", text: str) -> None:
        with self.lock:
            if ttft is not None:
                self.ttft.append(ttft)
            self.texts.append(text)


def failure(exc: BaseException) -> str:
    return "error: %s: %s" % (type(exc).__name__, str(exc)[:120])


def run_async(open_stream: "Callable[[str, str], AsyncIterable[str]]",
              aclose: "Optional[Callable[[], Any]]" = None) -> None:
    """open_stream(url, model) -> async iterable of text; aclose() is awaited at the end."""
    import asyncio  # not in the thread client's peak RSS

    async def one(url: str, model: str, tally: Tally) -> None:
        start, first, parts = time.perf_counter(), None, []
        try:
            async for text in open_stream(url, model):
                if first is None and text:
                    first = time.perf_counter() - start
                parts.append(text)
        except Exception as exc:  # a failed stream is a figure, not the end of the run
            parts = [failure(exc)]
        tally.add(first, "".join(parts))

    async def all_streams(url: str, model: str, n: int, tally: Tally) -> None:
        await asyncio.gather(*(one(url, model, tally) for _ in range(n)))
        if aclose is not None:
            await aclose()

    measure(lambda url, model, n, tally: asyncio.run(all_streams(url, model, n, tally)))


def run_threads(open_stream: "Callable[[str, str], Iterable[str]]") -> None:
    """open_stream(url, model) -> iterable of text, run on one thread per stream."""

    def one(url: str, model: str, tally: Tally) -> None:
        start, first, parts = time.perf_counter(), None, []
        try:
            for text in open_stream(url, model):
                if first is None and text:
                    first = time.perf_counter() - start
                parts.append(text)
        except Exception as exc:
            parts = [failure(exc)]
        tally.add(first, "".join(parts))

    def all_streams(url: str, model: str, n: int, tally: Tally) -> None:
        threads = [threading.Thread(target=one, args=(url, model, tally)) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    measure(all_streams)


def measure(run: "Callable[[str, str, int, Tally], None]") -> None:
    url, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    raise_nofile(FDS_PER_STREAM * n + 256)
    tally = Tally()
    rss_ready = proc_status_kb("VmRSS")
    t0, wall0 = os.times(), time.perf_counter()
    run(url, model, n, tally)
    t1, wall = os.times(), time.perf_counter() - wall0
    digests = collections.Counter(t if t.startswith("error: ") else hashlib.md5(t.encode()).hexdigest()
                                  for t in tally.texts)
    print(json.dumps({
        "n": n, "cpu_s": (t1.user + t1.system) - (t0.user + t0.system), "wall_s": wall,
        "rss_ready_kb": rss_ready, "peak_rss_kb": proc_status_kb("VmHWM"),
        "ttft_s": tally.ttft, "digests": digests, "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }), flush=True)


def proc_status_kb(field: str) -> int:
    """A figure from /proc/self/status. VmHWM is this process's own peak: unlike wait4's
    ru_maxrss it does not inherit the parent's peak across fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def raise_nofile(wanted: int) -> int:
    """Lift the soft open-files limit towards `wanted` (never past the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft
