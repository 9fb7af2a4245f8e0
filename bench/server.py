"""A local OpenAI-compatible server for the benchmark (standard library only).

POST /v1/chat/completions answers with a chunked text/event-stream in OpenAI's exact chunk
shape. The model name drives it:
    bench-n20000        20,000 content tokens, written as fast as the socket takes them
    bench-n500-p2       500 tokens, 2 ms apart (pacing)
    bench-probe-n300    300 tokens; each waits for the harness to see the previous one
Token i is the text " t%05d" % i, so a client's output can be checked exactly.
"""

import json
import re
import socket
import threading
import time
from typing import Dict, List, Optional

CHUNK_PREFIX = ('{"id":"chatcmpl-BJ7xq4NvXkCPUwF2rD0tG3bLm9sYe","object":"chat.completion.chunk",'
                '"created":1764072000,"model":"%s","service_tier":"default",'
                '"system_fingerprint":"fp_b6d1f9a3c2","choices":[{"index":0,"delta":')
CHUNK_SUFFIX = ',"logprobs":null,"finish_reason":%s}],"obfuscation":"%s"}'


def token(i: int) -> str:
    return " t%05d" % i


def expected_text(n: int) -> str:
    return "".join(token(i) for i in range(n))


def event(model: str, delta: Dict[str, str], finish: Optional[str] = None, pad: str = "aB3") -> bytes:
    data = (CHUNK_PREFIX % model) + json.dumps(delta, separators=(",", ":")) + \
        CHUNK_SUFFIX % (json.dumps(finish), pad)
    return b"data: " + data.encode() + b"\n\n"


def frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def stream_events(model: str, n: int) -> List[bytes]:
    events = [event(model, {"role": "assistant", "content": "", "refusal": None})]
    events += [event(model, {"content": token(i)}, pad="x" * (i % 7)) for i in range(n)]
    events.append(event(model, {}, "stop"))
    events.append(b"data: [DONE]\n\n")
    return events


HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n")


class Probe:
    """Per-token handshake for the latency figure: the server sends token i, the harness
    calls seen(i) when the client's stdout shows it, then the server sends token i + 1."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sent = [0.0] * n
        self.seen_at = [0.0] * n
        self._cond = threading.Condition()
        self._seen = -1

    def wait_seen(self, i: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._seen >= i, timeout)

    def seen(self, i: int, at: float) -> None:
        with self._cond:
            self.seen_at[i] = at
            self._seen = i
            self._cond.notify_all()


class BenchServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d/v1" % self.port
        self.probe = None  # type: Optional[Probe]
        self._cache = {}  # type: Dict[str, bytes]
        threading.Thread(target=self._accept, daemon=True).start()

    def prepare(self, models: List[str]) -> None:
        """Build the payloads before timing starts."""
        for model in models:
            m = re.match(r"bench-n(\d+)$", model)
            if m:
                self._payload(model, int(m.group(1)))

    def _payload(self, model: str, n: int) -> bytes:
        payload = self._cache.get(model)
        if payload is None:
            payload = HEAD + b"".join(frame(e) for e in stream_events(model, n)) + b"0\r\n\r\n"
            self._cache[model] = payload
        return payload

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            model = json.loads(body)["model"]
            m = re.match(r"bench-(probe-)?n(\d+)(?:-p(\d+))?$", model)
            if not m:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            n, pace = int(m.group(2)), int(m.group(3) or 0) / 1000.0
            if m.group(1):
                self._probe(conn, model, n)
            elif pace:
                conn.sendall(HEAD)
                for ev in stream_events(model, n):
                    conn.sendall(frame(ev))
                    time.sleep(pace)
                conn.sendall(b"0\r\n\r\n")
            else:
                payload = self._payload(model, n)
                view = memoryview(payload)
                for i in range(0, len(payload), 65536):
                    conn.sendall(view[i:i + 65536])
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(5)
            while conn.recv(65536):  # let the client close first: no RST on unread bytes
                pass
        except OSError:
            pass
        finally:
            conn.close()

    def _probe(self, conn: socket.socket, model: str, n: int) -> None:
        probe = self.probe
        events = stream_events(model, n)
        conn.sendall(HEAD + frame(events[0]))
        for i in range(n):
            data = frame(events[i + 1])
            probe.sent[i] = time.perf_counter()
            conn.sendall(data)
            if not probe.wait_seen(i):
                return
        conn.sendall(b"".join(frame(e) for e in events[n + 1:]) + b"0\r\n\r\n")


if __name__ == "__main__":
    server = BenchServer()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
