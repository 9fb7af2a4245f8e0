"""Tests for oai_stream: decoder tables, wire formats, and the CLI and library through real
HTTP/1.1 on loopback against a small threaded server that writes exact bytes.

The fake server comes first and needs only the standard library, so that
`python test_oai_stream.py demo` runs without pytest (make demo).
"""

import http.client
import json
import os
import random
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.join(HERE, "oai_stream.py")
sys.path.insert(0, HERE)
import oai_stream  # noqa: E402

# ---------------------------------------------------------------------------
# The fake OpenAI-compatible server: scripted responses, exact bytes
# ---------------------------------------------------------------------------

HOLD = "hold"  # step: keep the connection open until the client closes it (or 10 s)
RESET = "reset"  # step: abort the connection with a TCP RST


class Wait:
    """Step: wait until the test sets this event (bounded)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def set(self) -> None:
        self.event.set()


class Seen(Wait):
    """Step: tell the test that the server reached this point."""


def head(status=200, ctype="text/event-stream", chunked=True, headers=(), length=None):
    lines = ["HTTP/1.1 %d %s" % (status, http.client.responses.get(status, "Status"))]
    if ctype:
        lines.append("Content-Type: " + ctype)
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append("Content-Length: %d" % length)
    lines += ["%s: %s" % h for h in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


END = b"0\r\n\r\n"


def sse_reply(*pieces, **kw):
    """A 200 event stream: each piece of bytes is one HTTP chunk; floats pace, steps pass."""
    chunked = kw.pop("chunked", True)
    steps = [head(chunked=chunked, **kw)]
    for p in pieces:
        steps.append(chunk(p) if chunked and isinstance(p, bytes) else p)
    if chunked:
        steps.append(END)
    return steps


def json_reply(status, obj, headers=(), ctype="application/json"):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return [head(status, ctype, chunked=False, headers=headers, length=len(body)) + body]


def error_reply(status, message, code=None, etype="invalid_request_error", headers=()):
    return json_reply(status, {"error": {"message": message, "type": etype, "param": None,
                                         "code": code}}, headers)


def chat_chunk(content=None, finish=None, role=None, **delta):
    """One chunk shaped as OpenAI sends it (obfuscation padding and null usage included)."""
    d = dict(delta)
    if role:
        d.update(role=role, content="", refusal=None)
    if content is not None:
        d["content"] = content
    obj = {"id": "chatcmpl-CQ5goxHuttqxwi7pnqnZ6", "object": "chat.completion.chunk",
           "created": 1760334434, "model": "gpt-6.1-terra-2026-09-30", "service_tier": "default",
           "system_fingerprint": "fp_560af6e559",
           "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}],
           "usage": None, "obfuscation": "k3Fz"}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chat_events(tokens, finish="stop", usage=None):
    out = [chat_chunk(role="assistant")] + [chat_chunk(t) for t in tokens]
    out.append(chat_chunk(finish=finish))
    if usage:
        obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
               "model": "m", "choices": [], "usage": usage}
        out.append(b"data: " + json.dumps(obj).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def chat_reply(tokens, **kw):
    return sse_reply(*chat_events(tokens, finish=kw.pop("finish", "stop"),
                                  usage=kw.pop("usage", None)), **kw)


def responses_event(etype, **fields):
    obj = dict(type=etype, sequence_number=fields.pop("seq", 0), **fields)
    return ("event: %s\ndata: %s\n\n" % (etype, json.dumps(obj))).encode()


def responses_events(tokens, status="completed", reason=None, usage=None):
    resp = {"id": "resp_1", "object": "response", "status": "in_progress", "model": "gpt-6.1-terra"}
    out = [responses_event("response.created", response=resp),
           responses_event("response.in_progress", response=resp),
           responses_event("response.output_item.added", output_index=0,
                           item={"id": "msg_1", "type": "message", "role": "assistant",
                                 "content": [], "status": "in_progress"}),
           responses_event("response.content_part.added", item_id="msg_1", output_index=0,
                           content_index=0, part={"type": "output_text", "text": "",
                                                  "annotations": []})]
    for i, t in enumerate(tokens):
        out.append(responses_event("response.output_text.delta", item_id="msg_1", output_index=0,
                                   content_index=0, delta=t, logprobs=[], seq=4 + i,
                                   obfuscation="ab"))
    out.append(responses_event("response.output_text.done", item_id="msg_1", output_index=0,
                               content_index=0, text="".join(tokens), logprobs=[]))
    final = dict(resp, status=status, usage=usage or {
        "input_tokens": 9, "output_tokens": len(tokens), "total_tokens": 9 + len(tokens)},
        incomplete_details={"reason": reason} if reason else None)
    out.append(responses_event("response." + status, response=final))
    return out


class FakeServer:
    """A threaded HTTP/1.1 server on loopback. Each request takes the next scripted reply
    (or the default one) and is recorded: method, path, headers (lower-case names), body."""

    def __init__(self, host="127.0.0.1", tls=None, default=None):
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.tls = tls
        self.scripts = []
        self.default = default
        self.requests = []
        self.connections = 0
        self._cond = threading.Condition()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "%s://%s:%d/v1" % ("https" if self.tls else "http", self.host, self.port)

    def push(self, *scripts):
        self.scripts.extend(scripts)
        return self

    def wait_requests(self, n, timeout=10.0):
        with self._cond:
            self._cond.wait_for(lambda: len(self.requests) >= n, timeout)
        assert len(self.requests) >= n, "server saw %d requests, expected %d" % (
            len(self.requests), n)
        return self.requests[n - 1]

    @property
    def last(self):
        return self.requests[-1]

    def close(self):
        self._closing = True
        self.sock.close()

    def _accept(self):
        while not self._closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            request = self._read_request(conn)
            if request is None:
                return
            with self._cond:
                self.requests.append(request)
                script = self.scripts.pop(0) if self.scripts else self.default
                self._cond.notify_all()
            if callable(script):
                script = script(request)
            self._play(conn, script or error_reply(500, "no script"))
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return None
            data += more
        header, _, body = data.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(body) < length:
            more = conn.recv(65536)
            if not more:
                break
            body += more
        return {"method": method, "path": path, "headers": headers, "body": body,
                "json": json.loads(body) if body else None}

    def _play(self, conn, steps):
        for step in steps:
            if isinstance(step, bytes):
                conn.sendall(step)
            elif isinstance(step, (int, float)):
                time.sleep(step)  # pacing of the stream, not synchronisation
            elif isinstance(step, Seen):
                step.set()
            elif isinstance(step, Wait):
                step.event.wait(10)
            elif step == HOLD:
                conn.settimeout(10)
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
            elif step == RESET:
                import struct
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return


DEMO_ANSWER = ("Python is a high-level, general-purpose programming language. Its design "
               "philosophy emphasizes code readability, and it comes with batteries included: "
               "this very answer was streamed to you over Server-Sent Events by oai_stream, "
               "from a local OpenAI-compatible test server, one token at a time. ")


def demo_tokens(text=DEMO_ANSWER):
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def demo(argv):
    """`python test_oai_stream.py demo [PROMPT]`: stream a paced answer from a local server.
    `python test_oai_stream.py serve PORT`: just run the server (Ctrl-C to stop)."""
    def paced(request):
        steps = []
        for event in chat_events(demo_tokens(), usage={"prompt_tokens": 12, "completion_tokens": 52,
                                                       "total_tokens": 64}):
            steps += [event, 0.04]
        return sse_reply(*steps)
    if argv[:1] == ["serve"]:
        server = FakeServer(default=paced)
        server.sock.close()
        server = FakeServer.__new__(FakeServer)
        FakeServer.__init__(server, default=paced)
        print("serving on %s (Ctrl-C to stop)" % server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    server = FakeServer(default=paced)
    prompt = " ".join(argv[1:]) or "What is Python?"
    sys.stderr.write("demo: a local OpenAI-compatible server at %s, no key, no network\n"
                     "$ oai_stream.py --base-url %s --usage %r\n" % (server.url, server.url, prompt))
    return oai_stream.main(["--base-url", server.url, "--usage", "-m", "demo", prompt])


if __name__ == "__main__":
    sys.exit(demo(sys.argv[1:] or ["demo"]))

# ---------------------------------------------------------------------------
# Tests (pytest from here on; the server above needs only the standard library)
# ---------------------------------------------------------------------------

import pytest  # noqa: E402

from oai_stream import Event, SSEDecoder, iter_sse  # noqa: E402

KEY = "sk-test-SECRETKEY-0123456789abcdefWXYZ"
PY = sys.executable


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "AZURE_OPENAI")) and "proxy" not in k.lower()}
    env.update(OPENAI_API_KEY=KEY, PYTHONIOENCODING="ascii", LC_ALL="C", LANG="C")
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        self.text = out.decode("utf-8")

    def __repr__(self):
        return "Result(rc=%r, out=%r, err=%r)" % (self.rc, self.out[-300:], self.err[-600:])


def run(args, stdin=b"", env=None, timeout=30):
    """Run the CLI in a subprocess; every output is checked for the key."""
    proc = subprocess.Popen([PY, MODULE] + list(args), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env or clean_env())
    out, err = proc.communicate(stdin, timeout=timeout)
    assert KEY.encode() not in out and KEY.encode() not in err
    assert b"Traceback" not in err, err.decode()
    return Result(proc.returncode, out, err.decode("utf-8"))


def cli(server, *args, **kw):
    return run(["--base-url", server.url, "-m", "test-model"] + list(args), **kw)


# ---------------------------------------------------------------------------
# SSE decoder: WHATWG cases replayed whole, byte by byte and split everywhere
# ---------------------------------------------------------------------------

def E(data, event="message", id=None, retry=None):
    return Event(event, data, id, retry)


DECODER_CASES = [
    ("one event", b"data: hello\n\n", [E("hello")]),
    ("no event without blank line", b"data: hello\n", []),
    ("unterminated final event is discarded", b"data: a\n\ndata: b", [E("a")]),
    ("CRLF", b"data: a\r\n\r\ndata: b\r\n\r\n", [E("a"), E("b")]),
    ("lone CR", b"data: a\r\rdata: b\r\r", [E("a"), E("b")]),
    ("mixed endings", b"data: a\r\ndata: b\rdata: c\n\r\n", [E("a\nb\nc")]),
    ("CR then LF is one ending", b"data: x\r\n\r\n", [E("x")]),
    ("comment", b": ping\n\ndata: a\n\n", [E("a")]),
    ("comment inside event", b"data: a\n: keep-alive\ndata: b\n\n", [E("a\nb")]),
    ("exactly one space stripped", b"data:  two\n\n", [E(" two")]),
    ("no space after colon", b"data:x\n\n", [E("x")]),
    ("field without colon is empty data", b"data\n\n", [E("")]),
    ("empty data dispatches empty string", b"data:\n\n", [E("")]),
    ("two empty data lines", b"data\ndata\n\n", [E("\n")]),
    ("multi-line data joined with LF", b"data: a\ndata: b\ndata: c\n\n", [E("a\nb\nc")]),
    ("trailing LF removed once", b"data: a\ndata:\n\n", [E("a\n")]),
    ("event type", b"event: add\ndata: 1\n\n", [E("1", "add")]),
    ("event type resets after dispatch", b"event: add\ndata: 1\n\ndata: 2\n\n",
     [E("1", "add"), E("2")]),
    ("empty event name is message", b"event:\ndata: 1\n\n", [E("1")]),
    ("event without data is not dispatched", b"event: x\n\ndata: y\n\n", [E("y")]),
    ("type of undispatched event does not leak", b"event: x\n\n\ndata: y\n\n", [E("y")]),
    ("id persists", b"id: 1\ndata: a\n\ndata: b\n\n", [E("a", id="1"), E("b", id="1")]),
    ("id set without data still persists", b"id: 7\n\ndata: a\n\n", [E("a", id="7")]),
    ("empty id resets to empty", b"id: 1\ndata: a\n\nid\ndata: b\n\n",
     [E("a", id="1"), E("b", id="")]),
    ("id with NUL ignored", b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
     [E("a", id="1"), E("b", id="1")]),
    ("retry digits", b"retry: 1500\ndata: a\n\n", [E("a", retry=1500)]),
    ("retry non-digits ignored", b"retry: 15x\ndata: a\n\nretry: -1\ndata: b\n\n",
     [E("a"), E("b")]),
    ("retry with space ignored", b"retry: 1 5\ndata: a\n\n", [E("a")]),
    ("retry empty ignored", b"retry\ndata: a\n\n", [E("a")]),
    ("retry persists", b"retry: 10\n\ndata: a\n\nretry: x\ndata: b\n\n",
     [E("a", retry=10), E("b", retry=10)]),
    ("unknown field ignored", b"foo: bar\ndata: a\n\n", [E("a")]),
    ("field names are case-sensitive", b"Data: a\nDATA: b\ndata: c\n\n", [E("c")]),
    ("colon in value kept", b"data: a: b\n\n", [E("a: b")]),
    ("leading BOM dropped", b"\xef\xbb\xbfdata: a\n\n", [E("a")]),
    ("only one BOM dropped", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", []),
    ("BOM later is data", b"data: a\n\ndata: \xef\xbb\xbfb\n\n", [E("a"), E("\ufeffb")]),
    ("UTF-8 multibyte", "data: h\u00e9 \u4e16\u754c \U0001f600\n\n".encode(), [E("h\u00e9 \u4e16\u754c \U0001f600")]),
    ("invalid UTF-8 replaced", b"data: a\xffb\xc3\n\n", [E("a\ufffdb\ufffd")]),
    ("NUL in data kept", b"data: a\x00b\n\n", [E("a\x00b")]),
    ("space before colon is part of name", b"data : a\n\n", []),
    ("blank lines alone", b"\n\n\n\r\n", []),
    ("openai done", b"data: {\"x\":1}\n\ndata: [DONE]\n\n", [E('{"x":1}'), E("[DONE]")]),
    ("event type is last one given", b"event: a\nevent: b\ndata: 1\n\n", [E("1", "b")]),
]


def decode(pieces, max_size=oai_stream.MAX_EVENT_SIZE):
    decoder = SSEDecoder(max_size)
    events = []
    for p in pieces:
        events += decoder.feed(p)
    events += decoder.close()
    return events


@pytest.mark.parametrize("name,stream,expected", DECODER_CASES, ids=[c[0] for c in DECODER_CASES])
def test_decoder_whole_bytewise_and_every_split(name, stream, expected):
    assert decode([stream]) == expected
    assert decode([stream[i:i + 1] for i in range(len(stream))]) == expected
    for i in range(len(stream) + 1):
        assert decode([stream[:i], stream[i:]]) == expected, "split at %d" % i
    for i in range(0, len(stream) + 1, 3):
        for j in range(i, len(stream) + 1, 2):
            assert decode([stream[:i], stream[i:j], stream[j:]]) == expected


def test_iter_sse_yields_each_event_as_soon_as_complete():
    seen = []

    def chunks():
        yield b"data: a\n"
        assert seen == []
        yield b"\ndata: b\n\n"
        assert [e.data for e in seen] == ["a", "b"]

    for event in iter_sse(chunks()):
        seen.append(event)
    assert [e.data for e in seen] == ["a", "b"]


def test_event_is_immutable_named_tuple():
    event = decode([b"id: 9\nretry: 5\nevent: x\ndata: d\n\n"])[0]
    assert (event.event, event.data, event.id, event.retry) == ("x", "d", "9", 5)
    with pytest.raises(AttributeError):
        event.data = "changed"


def test_decoder_limits_line_and_event_size():
    with pytest.raises(oai_stream.EventTooLarge, match="line exceeds the 100-byte limit"):
        decode([b"data: " + b"x" * 200], max_size=100)
    with pytest.raises(oai_stream.EventTooLarge):
        decode([b"x" * 60, b"y" * 60], max_size=100)  # grows across chunks, no newline
    with pytest.raises(oai_stream.EventTooLarge):
        decode([b": " + b"c" * 120 + b"\n\n"], max_size=100)  # a whole comment line too
    with pytest.raises(oai_stream.EventTooLarge, match="event exceeds"):
        decode([b"data: " + b"x" * 50 + b"\n"] * 3, max_size=100)
    assert decode([b"data: " + b"x" * 90 + b"\n\n"], max_size=100) == [E("x" * 90)]


def decode_limited(pieces):
    return decode(pieces, max_size=100)


def test_decoder_limit_is_independent_of_chunking():
    stream = b"data: " + b"x" * 150 + b"\n\n"
    for size in (1, 7, 64, 1000):
        with pytest.raises(oai_stream.EventTooLarge):
            decode_limited([stream[i:i + size] for i in range(0, len(stream), size)])


def test_decoder_is_reusable_for_long_streams_without_growth():
    decoder = SSEDecoder()
    block = b"data: {\"choices\":[{\"delta\":{\"content\":\"tok\"}}]}\n\n" * 100
    for _ in range(200):
        assert len(decoder.feed(block[:37])) >= 0
        decoder.feed(block[37:])
    assert decoder._tail_len < 100 and len(decoder._data) == 0


def test_fuzz_decoder_random_and_mutated_streams():
    """Random and mutated streams, fixed seeds, bounded time: only Events or EventTooLarge,
    buffers never beyond the limit, and the result never depends on the chunking."""
    seeds = list(range(40))
    base = b"".join(chat_events(["Hel", "lo", " w\u00f6rld".encode().decode()]))
    alphabet = b"data:event:id:retry: \r\n\xef\xbb\xbf\xff\x00abc{}\""
    deadline = time.monotonic() + 4.0
    for seed in seeds:
        rnd = random.Random(seed)
        if seed % 2:
            stream = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 400)))
        else:
            mutated = bytearray(base)
            for _ in range(rnd.randint(1, 20)):
                pos = rnd.randrange(len(mutated))
                mutated[pos:pos + rnd.randint(0, 3)] = bytes(
                    rnd.choice(alphabet) for _ in range(rnd.randint(0, 3)))
            stream = bytes(mutated)
        outcomes = []
        for _ in range(3):
            cuts = sorted(rnd.randint(0, len(stream)) for _ in range(rnd.randint(0, 8)))
            pieces = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]
            decoder = SSEDecoder(max_size=64)
            try:
                events = []
                for p in pieces:
                    events += decoder.feed(p)
                    assert decoder._tail_len <= 64 and decoder._data_len <= 64 + 1
                outcomes.append(events)
                assert all(isinstance(e, Event) and isinstance(e.data, str) for e in events)
            except oai_stream.EventTooLarge:
                outcomes.append("too large")
        assert outcomes[0] == outcomes[1] == outcomes[2], seed
        assert time.monotonic() < deadline, "fuzzing took too long"
