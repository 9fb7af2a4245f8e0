"""In-process SSE decoder throughput: oai_stream against the peers' decoders (figure e).

Run by run.py inside bench/.venv: python decoders.py MEGABYTES ROUNDS -> JSON on stdout.
BENCH_BASELINE=path/to/older/oai_stream.py adds that file's decoder beside this one's.

Two kinds of rows. The decoders alone (events out, no JSON) against "floor (split only)",
which splits bytes on LF and does nothing else. And the JSON rows: each event's data parsed
with json.loads, against "floor: split on blank lines + json.loads", the least a client that
parses every chunk can do; issue 17's decoder targets are set against that floor.
"""
import importlib.util
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oai_stream  # noqa: E402
from server import stream_events  # noqa: E402

FLOOR_SPLIT = "floor (split only)"
FLOOR_JSON = "floor: split on blank lines + json.loads"
OAI_JSON = "oai_stream + json.loads"
BASELINE_JSON = "oai_stream (baseline) + json.loads"


def decode_with(module):
    def decode(pieces):
        decoder = module.SSEDecoder()
        n = size = 0
        for piece in pieces:
            for event in decoder.feed(piece):
                n += 1
                size += len(event.data)
        return n, size
    return decode


def decode_json_with(module):
    """The decoder, then json.loads of each event's data, as a client does ([DONE] is not JSON)."""
    def decode(pieces):
        decoder = module.SSEDecoder()
        loads = json.loads
        n = size = 0
        for piece in pieces:
            for event in decoder.feed(piece):
                data = event.data
                if data != "[DONE]":
                    loads(data)
                n += 1
                size += len(data)
        return n, size
    return decode


def openai_sdk(pieces):
    from openai._streaming import SSEDecoder
    n = size = 0
    for event in SSEDecoder().iter_bytes(iter(pieces)):
        n += 1
        size += len(event.data)
    return n, size


def httpx_sse(pieces):
    # What EventSource.iter_sse() does over response.iter_text(): incremental UTF-8,
    # SSE line splitting, then the event decoder.
    from httpx._decoders import TextDecoder
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder
    text, lines, decoder = TextDecoder("utf-8"), SSELineDecoder(), SSEDecoder()
    n = size = 0
    for piece in pieces:
        for line in lines.decode(text.decode(piece)):
            event = decoder.decode(line.rstrip("\n"))
            if event is not None:
                n += 1
                size += len(event.data)
    return n, size


def sseclient_py(pieces):
    import sseclient
    n = size = 0
    for event in sseclient.SSEClient(pieces).events():
        n += 1
        size += len(event.data)
    return n, size


def floor(pieces):
    """Split into lines and count them: no parsing at all."""
    tail = b""
    lines = 0
    for piece in pieces:
        parts = (tail + piece).split(b"\n")
        tail = parts.pop()
        lines += len(parts)
    return lines, 0


def floor_json(pieces):
    """Split on blank lines, json.loads each data: line. LF only, no BOM, comments, fields,
    size limit or UTF-8 repair: what a client that trusts its server would write."""
    tail = b""
    loads = json.loads
    n = size = 0
    for piece in pieces:
        blocks = (tail + piece).split(b"\n\n")
        tail = blocks.pop()
        for block in blocks:
            for line in block.split(b"\n"):
                if line.startswith(b"data: "):
                    data = line[6:]
                    if data != b"[DONE]":
                        loads(data)
                    n += 1
                    size += len(data)
    return n, size


def load_baseline():
    path = os.environ.get("BENCH_BASELINE")
    if not path:
        return None
    spec = importlib.util.spec_from_file_location("oai_stream_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DECODERS = [("oai_stream", decode_with(oai_stream)), ("openai SDK", openai_sdk), ("httpx-sse", httpx_sse),
            ("sseclient-py", sseclient_py), (FLOOR_SPLIT, floor),
            (OAI_JSON, decode_json_with(oai_stream)), (FLOOR_JSON, floor_json)]
_baseline = load_baseline()
if _baseline is not None:
    DECODERS[1:1] = [("oai_stream (baseline)", decode_with(_baseline))]
    DECODERS.insert(len(DECODERS) - 1, (BASELINE_JSON, decode_json_with(_baseline)))  # before the floor


def main():
    megabytes, rounds = float(sys.argv[1]), int(sys.argv[2])
    one = b"".join(stream_events("bench-n1000", 1000))
    stream = one * max(1, int(megabytes * 1e6 / len(one)))
    events = stream.count(b"\n\n")
    data_size = sum(len(line) - 6 for line in stream.split(b"\n") if line.startswith(b"data: "))
    results = {name: {} for name, _ in DECODERS}
    for size in (16384, 64):
        pieces = [stream[i:i + size] for i in range(0, len(stream), size)]
        for _ in range(rounds):
            for name, decode in DECODERS:
                start = time.perf_counter()
                n, total = decode(pieces)
                elapsed = time.perf_counter() - start
                ok = (n, total) == ((stream.count(b"\n"), 0) if decode is floor else (events, data_size))
                results[name].setdefault(str(size), []).append(
                    {"seconds": elapsed, "mb_s": len(stream) / elapsed / 1e6,
                     "events_s": events / elapsed, "ok": ok})
    json.dump({"bytes": len(stream), "events": events, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
