#!/usr/bin/env python3
"""oai_stream: stream answers from the OpenAI API and every OpenAI-compatible server.

One file, standard library only, CPython 3.6 to 3.13 (the asyncio API needs 3.7). It POSTs a
request with urllib (or asyncio), decodes the Server-Sent Events stream with its own sans-I/O
decoder and writes each token to stdout the moment its bytes reach the socket.

    $ export OPENAI_API_KEY=sk-...
    $ python3 oai_stream.py "What is Python?"
    $ python3 oai_stream.py --base-url http://127.0.0.1:11434/v1 -m llama3.2 "Hi"

    >>> import oai_stream
    >>> for text in oai_stream.stream("What is Python?"):
    ...     print(text, end="", flush=True)

The file reads in the order the bytes travel: HTTP body framing, SSE decoding, the API
adapters, the policies (retry, redirect, errors), configuration, the two transports (urllib,
asyncio), the stream objects, the command line.

Specs followed:
- WHATWG HTML, "Server-sent events", section 9.2.6 (event stream interpretation):
  https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
- RFC 9112 (HTTP/1.1 message framing), RFC 9110 15.2 (1xx) and 10.2.3 (Retry-After)
- OpenAI API reference, streaming for Chat Completions, Completions and Responses:
  https://platform.openai.com/docs/api-reference/chat-streaming
  https://platform.openai.com/docs/api-reference/responses-streaming

Left out: reconnecting with Last-Event-ID (OpenAI streams cannot be resumed), running
tools, images and audio. MIT licence.
"""

# Only these load with the module; urllib, ssl, socket, asyncio, zlib, argparse are imported in
# the function that needs them: `--help` loads no network code, `import oai_stream` is cheap.
import json
import os
import re  # json loads it anyway
import sys
import time
from collections import namedtuple
from functools import lru_cache  # re loads it anyway

TYPE_CHECKING = False
if TYPE_CHECKING:  # `import typing` is ~3 ms of every start: annotations that need it are quoted
    from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

__version__ = "1.2.0"
__all__ = [
    "Event", "SSEDecoder", "iter_sse", "BodyFramer", "Part", "Stream", "AsyncStream",
    "stream", "astream", "list_models", "main", "build_request",
    "OAIStreamError", "ConfigError", "APIError", "NetworkError", "IdleTimeout", "ProtocolError",
    "EventTooLarge", "IncompleteStream", "EmptyAnswer", "RedirectError",
    "DEFAULT_MODEL", "DEFAULT_BASE_URL",
]


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # as the official SDK
DEFAULT_MODEL = "gpt-6.1-terra"  # replaces gpt-5-mini, shut down 2026-12-11 (OpenAI deprecations)
# Bounds connecting and each wait for the answer to progress, not the whole answer. Reasoning
# models can think for minutes before the first token; 600 s is the official SDK's default too.
DEFAULT_TIMEOUT = 600.0
DEFAULT_RETRIES = 2  # as the official SDK
RETRY_FIRST_WAIT = 0.5  # backoff: 0.5 s, 1 s, 2 s ... as the official SDK
RETRY_MAX_BACKOFF = 8.0  # the longest wait of our own choosing, as the official SDK
RETRY_JITTER = 0.25  # up to 25 % less, so that many clients do not retry in step
MAX_RETRY_WAIT = 60.0  # a Retry-After beyond this is capped: nobody watches a frozen CLI longer
# An SSE line or event, a whole JSON answer: Responses' image events carry MiBs of base64
MAX_EVENT_SIZE = MAX_BODY_SIZE = 16 * 1024 * 1024
# At most this many `{`, `[` and `,` (~ one Python object each) in a JSON value: a 16 MiB logprobs
# answer has ~1.7 million; 2 million build at most ~170 MB (measured: `[{"a":[]},...]`, the worst)
MAX_JSON_VALUES = 2000000
MAX_ERROR_BODY = 1024 * 1024  # an error body: the message is in the first few hundred bytes
MAX_HEAD_SIZE = 65536  # an HTTP response head (status line and headers), as http.client
MAX_INTERIM = 16  # 1xx answers skipped before the real one; real servers send one or two
MAX_REDIRECTS = 5  # same-origin 307/308 hops; a loop ends with a clear error
READ_SIZE = 65536  # upper bound for one read: returns what one recv delivered
INFLATE_STEP = 1024 * 1024  # a compressed body is inflated this much at a time: no bombs
MAX_LISTED = 100  # citations and tool names kept: a report, not a server's memory dump
MAX_TIMEOUT = 10 ** 6  # s; a longer wait overflows some platforms' timers
INTERRUPT_POLL = 0.25  # wait slices: Windows ignores Ctrl-C in a blocking call (cpython#85609)
_PLATFORM = sys.platform  # a seam: the tests run Windows' and macOS' code paths here

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SECRET_HEADERS = ("authorization", "api-key", "proxy-authorization", "x-api-key")  # redacted

TEXT, REASONING, REFUSAL = "text", "reasoning", "refusal"  # kinds of Part


# ---------------------------------------------------------------------------
# Errors: the library raises these and never prints or exits
# ---------------------------------------------------------------------------


class OAIStreamError(Exception):
    """Root of every error oai_stream raises. `param`: the parameter of ours that it is
    about (timeout, base_url...), named in the message; the CLI names its flag instead."""

    def __init__(self, message: str, param: "Optional[str]" = None) -> None:
        super().__init__(message)
        self.param = param


class ConfigError(OAIStreamError):
    """Missing key, bad URL, option or parameter: fix the call, not the network."""


class NetworkError(OAIStreamError):
    """Connection, TLS or transfer failure."""
    retryable = True  # before any output; a TLS or proxy-auth failure will not heal by waiting


class IdleTimeout(NetworkError):
    """No progress for `timeout` seconds, or the answer took longer than `max_time`."""

    def __init__(self, seconds: float, param: str = "timeout", host: str = "the server") -> None:
        seconds = round(seconds, 2)  # what is left of a limit, e.g. 0.299998 s
        super().__init__("the answer took longer than %g s (max_time)" % seconds
                         if param == "max_time" else
                         "no progress from %s for %g s (timeout)" % (host, seconds), param)


class ProtocolError(OAIStreamError):
    """The server answered with something that is not a valid stream."""


class EventTooLarge(ProtocolError):
    """An SSE line or event exceeded the decoder's size limit."""


class IncompleteStream(ProtocolError):
    """The stream ended before the answer was complete."""


class EmptyAnswer(IncompleteStream):
    """The stream ended with no text and no reason; `looks_like` names the API it resembles."""

    def __init__(self, message: str, looks_like: "Optional[str]" = None) -> None:
        super().__init__(message)
        self.looks_like = looks_like


class RedirectError(OAIStreamError):
    """The server redirected somewhere oai_stream will not follow."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


class APIError(OAIStreamError):
    """An error reported by the server: an HTTP error status or an error event in the stream.
    `status` (None inside a 200 stream) and `url` (what was asked); `code`, `type`, `param` and
    `message` from its error object, if any; `retry_after` (s) and `should_retry` from headers."""

    def __init__(self, message: str, status: "Optional[int]" = None, code: "Any" = None,
                 type: "Optional[str]" = None, param: "Optional[str]" = None,
                 retry_after: "Optional[float]" = None, should_retry: "Optional[bool]" = None,
                 url: "Optional[str]" = None) -> None:
        self.status, self.code, self.type, self.message = status, code, type, message
        self.retry_after, self.should_retry, self.url = retry_after, should_retry, url
        head = "HTTP %d" % status if status else "error in stream"
        if url:
            head += " from " + _without_password(url)
        extra = ", ".join(str(x) for x in (code, type) if x)
        super().__init__("%s%s: %s" % (head, " (%s)" % extra if extra else "", message), param)


# ---------------------------------------------------------------------------
# HTTP/1.1 responses, sans-I/O: the head, and the body's framing (RFC 9112)
# ---------------------------------------------------------------------------

_HEAD_END = re.compile(b"\n\r?\n")  # bare LF line ends are tolerated, as http.client does
_HEX = b"0123456789abcdefABCDEF"
_BROKEN = "broken HTTP transfer (chunked encoding or length): "


def _header_dict(items: "Iterable[Tuple[str, str]]") -> "Dict[str, str]":
    """Headers by lower-case name, repeated ones joined with ", ", for both transports."""
    headers = {}  # type: Dict[str, str]
    for name, value in items:
        name, value = name.strip().lower(), value.strip()
        headers[name] = headers[name] + ", " + value if name in headers else value
    return headers


def parse_head(buf: bytes) -> "Optional[Tuple[int, str, Dict[str, str], bytes]]":
    """The first final response head in `buf`: (status, reason, headers, rest of buf), or
    None while incomplete; ValueError when it is not HTTP. 1xx heads (103...) are skipped."""
    if len(buf) > MAX_HEAD_SIZE * 4:  # 1xx heads included: a server may not stall us with them
        raise ValueError("response heads over %d bytes" % (MAX_HEAD_SIZE * 4))
    pos = 0
    for _ in range(MAX_INTERIM + 1):
        blank = _HEAD_END.search(buf, pos)
        if (blank.end() if blank else len(buf)) - pos > MAX_HEAD_SIZE:  # blank line too
            raise ValueError("a response head over %d bytes" % MAX_HEAD_SIZE)
        if not blank:
            return None
        lines = buf[pos:blank.start()].decode("latin-1").split("\n")
        pos = blank.end()
        version, _, rest = lines[0].strip().partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ValueError(_excerpt(lines[0]))
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue
        fields = (line.partition(":") for line in lines[1:])
        return status, reason.strip(), _header_dict((n, v) for n, c, v in fields if c), buf[pos:]
    raise ValueError("more than %d interim (1xx) answers" % MAX_INTERIM)


def body_framing(status: int, headers: "Dict[str, str]") -> "Tuple[bool, Optional[int]]":
    """(chunked, length) for a response body; length None: delimited by the close."""
    if status in (204, 304) or status < 200:
        return False, 0  # no body at all: ends at once, even on a kept-alive connection
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return True, None
    length = headers.get("content-length", "").split(",")[0].strip()
    return False, int(length) if length.isdigit() else None


class BodyFramer:
    """HTTP/1.1 message body framing, sans-I/O: chunked (RFC 9112 7.1), Content-Length, or
    delimited by the close. feed(raw bytes) -> body bytes; eof() at EOF."""

    def __init__(self, chunked: bool, length: "Optional[int]") -> None:
        self.chunked, self.left = chunked, length
        self.complete = length == 0 and not chunked
        self._buf, self._state = b"", "size"  # states: size, data, crlf, trailer
        self.error = None  # type: Optional[ProtocolError]  # held back to deliver the body first

    def feed(self, raw: bytes) -> bytes:
        # One function on purpose: it runs on every read of a chunked stream (bench/run.py).
        if not self.chunked:
            if self.left is None:
                return raw
            raw = raw[:self.left]
            self.left -= len(raw)
            self.complete = self.left == 0
            return raw
        if self.error:
            raise self.error
        buf, pos, out = self._buf + raw if self._buf else raw, 0, []
        error = None
        state, left, end = self._state, self.left or 0, len(buf)
        while pos < end:
            if state == "data":
                piece = buf[pos:pos + left]
                out.append(piece)
                pos += len(piece)
                left -= len(piece)
                if left == 0:
                    state = "crlf"
            elif state == "crlf":  # CRLF after the data; a bare LF is tolerated
                if buf[pos:pos + 1] == b"\n":
                    pos += 1
                elif end - pos < 2:
                    break
                elif buf[pos:pos + 2] == b"\r\n":
                    pos += 2
                else:
                    error = ProtocolError(_BROKEN + "no CRLF after a chunk")
                    break
                state = "size"
            else:  # a chunk-size line or a trailer line
                eol = buf.find(b"\n", pos)
                if eol < 0:
                    if end - pos > 4096:
                        error = ProtocolError(_BROKEN + "chunk header too long")
                    break
                line = buf[pos:eol].rstrip(b"\r")
                pos = eol + 1
                if state == "trailer":
                    if not line:
                        self.complete = True
                        break
                    continue
                size = line if line and not line.strip(_HEX) else (
                    line.split(b";", 1)[0].strip(b" \t"))  # extensions, white space: rare
                if not size or size.strip(_HEX) or len(size) > 15:
                    error = ProtocolError(_BROKEN + "bad chunk size %r" % line[:20])
                    break
                left = int(size, 16)
                stop = pos + left
                if left and buf[stop:stop + 2] == b"\r\n":  # the usual: the whole chunk is here
                    out.append(buf[pos:stop])
                    pos, left = stop + 2, 0
                    continue
                state = "data" if left else "trailer"
        self._buf, self._state, self.left, self.error = buf[pos:], state, left, error
        if error and not out:
            raise error
        return b"".join(out)

    def eof(self) -> None:
        """The connection closed: fine unless it cut a chunk or a sized body short."""
        if self.error:
            raise self.error
        if self._buf or self._state in ("data", "crlf") or (self.left and not self.chunked):
            raise ProtocolError(_BROKEN + "the connection ended mid-message")


class Inflater:
    """Content-Encoding gzip or deflate, sent though we asked for identity: inflated a step
    per call, so a bomb never becomes one huge string; `pending`: more is in what arrived."""

    def __init__(self, coding: str) -> None:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise ProtocolError("unsupported Content-Encoding %s" % _excerpt(coding))
        import zlib
        self.coding, self._zlib = coding, zlib
        self._d = zlib.decompressobj(31 if "gzip" in coding else 15)
        self.pending = False

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._d.decompress(self._d.unconsumed_tail + data, INFLATE_STEP)
        except self._zlib.error as exc:
            raise ProtocolError("broken %s body: %s" % (self.coding, exc))
        # a full step may leave output pending even with no input left
        self.pending = bool(self._d.unconsumed_tail) or len(out) == INFLATE_STEP
        return out


# ---------------------------------------------------------------------------
# SSE decoding (pure: no I/O). WHATWG HTML 9.2.6.
# ---------------------------------------------------------------------------


class Event(namedtuple("Event", "event data id retry")):
    """One server-sent event, immutable: `event` (str; "message" when the stream named none),
    `data` (str); `id` (str) and `retry` (int, ms) as the stream last set them, or None."""
    __slots__ = ()


_BOM = b"\xef\xbb\xbf"
_PIECE_COST = 48  # what a bytes object and its list slot take beyond its length
_new_event = tuple.__new__  # skips namedtuple's __new__: 240 against 470 ns per Event (3.11)


class SSEDecoder:
    """Push-style event-stream decoder: feed(bytes) -> [Event]; close() at end of stream.
    Lines are split on bytes (LF, CR, CRLF) and each value decoded as UTF-8 with replacement,
    so the output is the same however the input is split. A line or event over `max_size` bytes
    raises EventTooLarge; a data line also counts what Python spends to hold it, so a million
    tiny `data:` lines are bounded too."""

    def __init__(self, max_size: int = MAX_EVENT_SIZE) -> None:
        self.max_size = max_size
        self.last_id = None  # type: Optional[str]
        self.retry = None  # type: Optional[int]
        self._tail = bytearray()  # the unfinished last line, grown in place: linear time
        self._data = []  # type: List[bytes]  # data lines of the event being built
        self._data_len = 0
        self._type = b""
        self._head = b""  # bytes held at stream start until the BOM question is settled; then None
        self._cr = False  # the previous chunk ended in CR: a leading LF ends no line
        self._error = None  # type: Optional[EventTooLarge]
        self._slow = True  # any of: not started, CR pending, error held back

    def feed(self, chunk: bytes) -> "List[Event]":
        # One function on purpose: the hot loop of every stream (bench/decoders.py measures it).
        if type(chunk) is not bytes:  # bytearray, memoryview: the fast paths need bytes
            chunk = bytes(chunk)
        if self._slow:  # the rare cases: an error held back, a BOM at stream start, a CR pending
            if self._error:
                raise self._error
            if self._head is not None:
                head = self._head + chunk
                if len(head) < 3 and _BOM.startswith(head):
                    self._head = head  # could still be a BOM: wait for more
                    return []
                self._head = None
                chunk = head[3:] if head.startswith(_BOM) else head
            if self._cr and chunk:
                self._cr = False
                chunk = chunk[1:] if chunk[:1] == b"\n" else chunk
            self._slow = self._cr
        if 13 in chunk:  # CR; an int test is a plain memchr, much faster than b"\r" in chunk
            # CRLF and lone CR become LF; a final CR ends a line, and its LF may come next
            if chunk[-1:] == b"\r":
                self._cr = self._slow = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        tail = self._tail
        if 10 not in chunk:  # no LF: the middle of a line, kept for later
            tail += chunk
            if len(tail) > self.max_size:
                raise EventTooLarge("event stream line exceeds the %d-byte limit" % self.max_size)
            return []
        if tail:
            chunk = b"".join((tail, chunk))  # bytes, in one copy
        lines = chunk.split(b"\n")
        del tail[:]  # faster than a slice assignment
        tail += lines.pop()
        limit = self.max_size
        data_limit = limit + _PIECE_COST  # an event of one data line may hold `limit` bytes
        if len(chunk) > limit:  # only then can a line be over the limit
            long = [i for i, line in enumerate(lines) if len(line) > limit]
            if long or len(tail) > limit:
                self._error = EventTooLarge("event stream line exceeds the %d-byte limit" % limit)
                self._slow = True
                del lines[long[0] if long else len(lines):]

        # WHATWG 9.2.6 "interpret an event stream", one line at a time
        events = []  # type: List[Event]
        data, size = self._data, self._data_len
        for line in lines:
            if not line:  # blank line: dispatch
                if data:
                    value = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(_new_event(Event, (
                        self._type.decode("utf-8", "replace") if self._type else "message",
                        value.decode("utf-8", "replace"), self.last_id, self.retry)))
                    data = self._data = []
                    size = 0
                self._type = b""  # an empty data buffer resets the type too
            elif line[:5] == b"data:" or line == b"data":  # hot: OpenAI sends only data lines
                value = line[6:] if line[5:6] == b" " else line[5:]  # "data" alone: b""
                data.append(value)
                size += len(value) + _PIECE_COST
                if size > data_limit:
                    self._error = EventTooLarge("event exceeds the %d-byte limit" % limit)
                    self._slow = True
                    break
            elif line[:1] != b":":  # not a comment
                name, _, value = line.partition(b":")
                value = value[1:] if value[:1] == b" " else value
                if name == b"event":
                    self._type = value
                elif name == b"id" and 0 not in value:  # an id with NUL is ignored
                    self.last_id = value.decode("utf-8", "replace")
                elif name == b"retry" and value.isdigit():  # bytes.isdigit(): ASCII digits only
                    self.retry = int(value)
        self._data_len = size
        if self._error and not events:  # events before the fault are delivered first
            raise self._error
        return events

    def close(self) -> "List[Event]":
        """End of stream: an unfinished event is discarded (WHATWG); a held-back error raised."""
        self._tail, self._data, self._data_len, self._type = bytearray(), [], 0, b""
        if self._error:
            raise self._error
        return []


def iter_sse(chunks: "Iterable[bytes]", max_size: int = MAX_EVENT_SIZE) -> "Iterator[Event]":
    """Decode an iterable of byte chunks into events, each yielded as soon as it is complete."""
    decoder = SSEDecoder(max_size)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()


# ---------------------------------------------------------------------------
# OpenAI wire formats: pure, dicts in, parts out. One adapter per API; each owns its whole
# vocabulary: body fields, deltas, terminal events, cut reasons, usage, notices.
# ---------------------------------------------------------------------------


class Part(namedtuple("Part", "kind text")):
    """A piece of the answer: kind is "text", "reasoning" or "refusal"; text is a str."""
    __slots__ = ()


_new_part = tuple.__new__  # as _new_event

# What a finish reason means, as servers spell it (compared lower-cased): Gemini's through
# gateways, Anthropic's, Mistral's, vLLM's. Any other reason (stop, tool_calls, end_turn,
# completed...) ends a whole answer; a failure keeps the text but is an error.
LIMIT, FILTER, FAILURE = "the token limit", "the content filter", "a failure"
FINISH_REASONS = dict(
    dict.fromkeys(("length", "max_tokens", "max_output_tokens", "model_length"), LIMIT),
    **dict.fromkeys(("content_filter", "safety", "recitation", "prohibited_content",
                     "blocklist", "spii"), FILTER), error=FAILURE, abort=FAILURE)


class Adapter:
    """Turns one API's stream events into Parts and notes how the stream ended. Each API has
    body(model, messages, max_tokens, temperature, usage, openai_host, stream): the request
    body; feed(event): the Parts of a stream event; from_json(obj): those of a whole answer
    (asked for, or sent by a server that ignores stream)."""
    name = path = ""
    # Where the usage object holds prompt, completion, total, reasoning and cached tokens.
    usage_names = ()  # type: Tuple[str, ...]
    # Fields the adapter adds on its own that some servers reject (HTTP 400/422): dropped
    # (None) or renamed when the error names them. Fields the caller set are never touched.
    optional_fields = {}  # type: Dict[str, Optional[str]]
    hidden = ended = False  # other choices arrived and were not shown; a terminal event arrived
    finish_reason = meaning = model = None  # type: Optional[str]  # meaning: LIMIT, FILTER...
    usage = timings = None  # type: Any  # timings: llama.cpp's, when it sends no usage
    why = ""  # the finish reason as the notices quote it
    other = ()  # type: Tuple[str, ...]  # APIs of the last text-less event
    cut = property(lambda self: self.meaning not in (None, FAILURE))  # LIMIT or FILTER

    def __init__(self, choices: int = 1) -> None:
        self.several = choices > 1  # n > 1 was asked for: choice 0 is the answer
        self.tools = []  # type: List[str]  # names of the tools the model asked to call
        self.citations = []  # type: List[Dict[str, str]]  # {"url", "title"}, in order

    def complete(self) -> bool:
        """Whether the stream so far holds a whole answer (checked at end of stream)."""
        return self.ended

    def _finished(self, reason: str, label: str = "finish_reason: %s") -> None:
        self.finish_reason = reason.lower()  # some gateways pass Gemini's "STOP" on
        self.meaning = FINISH_REASONS.get(self.finish_reason)
        self.why = label % _one_line(reason, 60)

    def notices(self) -> "List[str]":
        """What the user should know about how the answer ended."""
        return [notice for shown, notice in (
            (self.cut, "the answer was cut short by %s (%s)" % (self.meaning, self.why)),
            # whatever the finish reason: some servers end a tool call with stop
            (self.tools, "the model asked to call a tool (%s); oai_stream runs no tools"
             % ", ".join(self.tools)),
            (self.hidden, "the server sent several choices (n > 1); only the first is shown"),
        ) if shown]

    def usage_counts(self) -> "Tuple[Optional[int], ...]":
        """(prompt, completion, total, reasoning, cached) tokens; None where not sent."""
        usage = self.usage if isinstance(self.usage, dict) else None
        if usage is None and isinstance(self.timings, dict):  # llama.cpp without usage
            usage = {self.usage_names[0]: self.timings.get("prompt_n"),
                     self.usage_names[1]: self.timings.get("predicted_n")}
        counts = []
        for path in self.usage_names:
            value = usage
            for key in path.split("."):
                value = value.get(key) if isinstance(value, dict) else None
            counts.append(value if type(value) is int and 0 <= value < 10 ** 15 else None)
        return tuple(counts)

    def looks_like(self) -> "Optional[str]":
        """Which other API the events that carried no text belong to, if any."""
        return None if self.name in self.other else next(iter(self.other), None)

    def _tool(self, name: "Any") -> None:
        name = _one_line(name, 100) if isinstance(name, str) and name.strip() else "unnamed"
        if name not in self.tools and len(self.tools) < MAX_LISTED:
            self.tools.append(name)

    def _cite(self, items: "Any") -> None:
        """Perplexity's URLs, OpenRouter's and OpenAI's url_citation, Responses' file ids."""
        for item in items if isinstance(items, list) else ():
            item = item if isinstance(item, dict) else {"url": item}
            item = item["url_citation"] if isinstance(item.get("url_citation"), dict) else item
            url = item.get("url") or item.get("file_id")
            title = item.get("title") or item.get("filename")
            if (isinstance(url, str) and url and len(self.citations) < MAX_LISTED
                    and all(c["url"] != url for c in self.citations)):
                self.citations.append(dict(url=url, title=title if isinstance(title, str) else ""))


def _claimed_by(obj: "Dict[str, Any]") -> "Tuple[str, ...]":
    """The APIs whose shape an event object has (to name one when no text came)."""
    choice, kind = _choice(obj.get("choices"), False) or {}, obj.get("type")
    return tuple(api for api, shape in (
        ("chat", "delta" in choice or "message" in choice), ("completions", "text" in choice),
        ("responses", isinstance(kind, str) and kind.startswith("response."))) if shape)


def _is_done(data: str) -> bool:
    """The `data: [DONE]` sentinel that ends Chat and Completions streams."""
    return data == "[DONE]" or data[:1] != "{" and data.strip() == "[DONE]"


class ChatAdapter(Adapter):
    """Chat Completions: `choices[0].delta.content`, ending with `data: [DONE]`."""
    name, path = "chat", "/chat/completions"
    optional_fields = {"stream_options": None, "max_completion_tokens": "max_tokens",
                       "max_tokens": "max_completion_tokens"}
    usage_names = ("prompt_tokens", "completion_tokens", "total_tokens",
                   "completion_tokens_details.reasoning_tokens",
                   "prompt_tokens_details.cached_tokens")

    def body(self, model, messages, max_tokens, temperature, usage, openai_host, stream):
        body = {"model": model, "messages": messages, "stream": stream}  # type: Dict[str, Any]
        if max_tokens is not None:  # OpenAI's reasoning models reject max_tokens; compatible
            # servers may not know max_completion_tokens and would silently ignore it.
            body["max_completion_tokens" if openai_host else "max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        if usage and stream:  # only when asked: some servers reject unknown fields
            body["stream_options"] = {"include_usage": True}
        return body

    def feed(self, event):
        data = event.data
        if data[:1] != "{" and _is_done(data):
            self.ended = True
            return []
        obj = _parse_json(data)
        if obj.get("error") or event.event == "error":
            raise _error_from(obj)
        return self._answer(obj, "delta")

    def complete(self):
        # A finish_reason makes the answer whole even if the server closed before [DONE].
        return self.ended or self.finish_reason is not None

    def from_json(self, obj):
        if obj.get("error") or obj.get("object") == "error":
            raise _error_from(obj)
        self.ended = True
        return self._answer(obj, "message")

    def _answer(self, obj: "Dict[str, Any]", field: str) -> "List[Part]":
        """The parts of one chunk (field "delta") or of a whole answer ("message")."""
        self.usage = obj.get("usage") or self.usage
        self.timings = obj.get("timings") or self.timings
        if self.model is None and isinstance(obj.get("model"), str):
            self.model = obj["model"]
        if "citations" in obj or "search_results" in obj:  # Perplexity, on every chunk
            self._cite(obj.get("citations"))
            self._cite(obj.get("search_results"))
        choices = obj.get("choices")
        choice = _choice(choices, self.several)
        if self.several and isinstance(choices, list) and any(c is not choice for c in choices):
            self.hidden = True
        if choice is not None:
            reason = choice.get("finish_reason")
            if reason and isinstance(reason, str):
                self._finished(reason)
                groq = obj.get("x_groq")  # Groq's usage, before it adopted include_usage
                if isinstance(groq, dict) and groq.get("usage") and not self.usage:
                    self.usage = groq["usage"]
            parts = self._parts(choice, field)
            if parts:
                return parts
        self.other = _claimed_by(obj)  # usage chunk, Azure's prompt_filter_results, keep-alive
        return []

    def _parts(self, choice: "Dict[str, Any]", field: str) -> "List[Part]":
        delta = choice.get(field)
        if type(delta) is not dict:
            return []
        content = delta.get("content")
        if len(delta) == 1 and type(content) is str:  # the hot path: {"content": "..."}
            return [_new_part(Part, (TEXT, content))] if content else []
        # DeepSeek/old vLLM, newer vLLM and Groq, OpenRouter and MiniMax: one of them is sent
        thought = _text_of(delta.get("reasoning_content")) or _text_of(delta.get("reasoning"))
        details = delta.get("reasoning_details")
        if not thought and isinstance(details, list):
            thought = "".join(_text_of(d.get("text") or d.get("summary")) for d in details
                              if isinstance(d, dict))  # reasoning.encrypted has neither
        if type(content) is list:  # Mistral's reasoning: {"type": "thinking", "thinking": [...]}
            thought += "".join(_text_of(p.get("thinking")) for p in content
                               if isinstance(p, dict) and p.get("type") == "thinking")
        text = _text_of(content)
        audio = delta.get("audio")
        if not text and isinstance(audio, dict):  # a spoken answer: its transcript is the text
            text = _text_of(audio.get("transcript"))
        parts = [Part(k, v) for k, v in (
            (REASONING, thought), (TEXT, text), (REFUSAL, _text_of(delta.get("refusal")))) if v]
        if "annotations" in delta:  # OpenRouter, OpenAI search models
            self._cite(delta["annotations"])
        calls = delta.get("tool_calls") or delta.get("function_call")
        if calls:
            for call in calls if isinstance(calls, list) else [{"function": calls}]:
                call = call if isinstance(call, dict) else {}
                function = call.get("function") or call.get("custom")  # custom tools
                name = function.get("name") if isinstance(function, dict) else None
                if name or call.get("id"):  # a call starts; later deltas carry its arguments
                    self._tool(name)
        return parts


def _choice(choices: "Any", first: bool) -> "Optional[Dict[str, Any]]":
    """The answer: choice 0, or a lone choice whatever its index (Foundry Local and TGI 1.4.3
    count it up per chunk) unless several were asked for (`first`)."""
    if not choices or type(choices) is not list:
        return None
    choice = choices[0]
    if first or len(choices) > 1:
        choice = next((c for c in choices if type(c) is dict and c.get("index", 0) in (0, None)),
                      None if first else choice)
    return choice if type(choice) is dict else None


class CompletionsAdapter(ChatAdapter):
    """Legacy Completions: `choices[0].text`, ending with `data: [DONE]`."""
    name, path = "completions", "/completions"
    optional_fields = {"stream_options": None}

    def body(self, model, messages, max_tokens, temperature, usage, openai_host, stream):
        body = super().body(model, messages, max_tokens, temperature, usage, False, stream)
        del body["messages"]
        if len(messages) == 1:  # a lone message is the prompt as it is
            body["prompt"] = _text_of(messages[0].get("content"))
        else:  # "Role: content" paragraphs (every message has a role: checked)
            body["prompt"] = "".join("%s: %s\n\n" % (m["role"].capitalize(), _text_of(
                m.get("content"))) for m in messages) + "Assistant:"
        return body

    def _parts(self, choice, field):
        text = _text_of(choice.get("text"))
        return [Part(TEXT, text)] if text else []


# Calls the server runs itself (OpenAI's hosted tools): no caller is asked to run them.
_RAN = ("web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
        "mcp_call")


class ResponsesAdapter(Adapter):
    """Responses API: typed events, complete at response.completed. An output item's text
    comes in deltas or only in closing events (some servers): the first to bring it wins."""
    name, path = "responses", "/responses"
    usage_names = ("input_tokens", "output_tokens", "total_tokens",
                   "output_tokens_details.reasoning_tokens", "input_tokens_details.cached_tokens")
    _kinds = {"response.output_text.delta": TEXT, "response.audio.transcript.delta": TEXT,
              "response.refusal.delta": REFUSAL, "response.reasoning_text.delta": REASONING,
              "response.reasoning_summary_text.delta": REASONING}
    _ends = ("response.completed", "response.incomplete", "response.failed")
    # Events read; others (partial images: MiBs of base64) are not even parsed.
    _read = set(_kinds) | set(_ends) | {
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.output_text.annotation.added"}

    def __init__(self, choices: int = 1) -> None:
        super().__init__(choices)
        self._last = {}  # type: Dict[str, Any]  # kind -> the output item of its last text
        self._taken = set()  # type: set  # output items whose text was given

    def body(self, model, messages, max_tokens, temperature, usage, openai_host, stream):
        system = [_text_of(m.get("content")) for m in messages if m.get("role") == "system"]
        rest = [m for m in messages if m.get("role") != "system"]
        body = {"model": model, "stream": stream}  # type: Dict[str, Any]
        if system:
            body["instructions"] = "\n\n".join(system)
        body["input"] = (rest[0]["content"] if len(rest) == 1 and rest[0].get("role") == "user"
                         else rest)
        if max_tokens is not None:
            body["max_output_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        return body  # usage always arrives in response.completed

    def feed(self, event):
        name = event.event
        if name.startswith("response.") and name not in self._read or _is_done(event.data):
            return []  # some compatible servers add [DONE] anyway
        obj = _parse_json(event.data)
        kind = obj.get("type") if isinstance(obj.get("type"), str) else name
        index = obj.get("output_index")
        if kind in self._kinds:
            key = (index, obj.get("summary_index")) if self._kinds[kind] == REASONING else index
            return self._text(self._kinds[kind], _text_of(obj.get("delta")), key)
        self.other = _claimed_by(obj)
        if kind in self._ends:
            response = obj.get("response") if isinstance(obj.get("response"), dict) else {}
            parts = self._finish(response)
            if kind == "response.failed":
                raise _error_from(response.get("error") or {"message": "response failed"})
            return parts
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._closing(index, obj.get("item"))
        if kind == "response.content_part.done":
            return self._closing(index, {"content": [obj.get("part")]})
        if kind == "response.output_text.done":
            text = {"type": "output_text", "text": obj.get("text")}
            return self._closing(index, {"content": [text]})
        if kind == "response.output_text.annotation.added":
            self._cite([obj.get("annotation")])
        elif kind == "error" or obj.get("error") and not kind.startswith("response."):
            # {"type": "error"} is the event's type, not the error's
            raise _error_from({k: v for k, v in obj.items() if (k, v) != ("type", "error")})
        return []

    def from_json(self, obj):
        if obj.get("error"):
            raise _error_from(obj)
        parts = self._finish(obj)
        self.other = () if parts else _claimed_by(obj)  # a whole answer: the only event
        return parts

    def _finish(self, response: "Dict[str, Any]") -> "List[Part]":
        """A finished response: how it ended, and the text of output items no event gave."""
        self.ended = True
        self.usage = response.get("usage") or self.usage
        self.model = response["model"] if isinstance(response.get("model"), str) else self.model
        details = response.get("incomplete_details")
        status = response.get("status") if isinstance(response.get("status"), str) else None
        if status == "incomplete" or details:
            reason = details.get("reason") if isinstance(details, dict) else None
            self._finished(reason if isinstance(reason, str) and reason else "incomplete", "%s")
            self.meaning = self.meaning or "the server"  # a reason not known yet: still cut
            if self.finish_reason == "incomplete":
                self.why = "response.incomplete"
        else:
            self.finish_reason = status or "completed"
        output = response.get("output")
        return [part for index, item in enumerate(output if isinstance(output, list) else [])
                for part in self._closing(index, item)]

    def _closing(self, index: "Any", item: "Any") -> "List[Part]":
        """A closing event's output item: a tool call is named; its text given if no event
        gave that item's text yet (if the server numbers no deltas: any item's)."""
        item = item if isinstance(item, dict) else {}
        kind = item.get("type") if isinstance(item.get("type"), str) else ""
        if (kind.endswith("_call") or kind == "mcp_approval_request") and kind not in _RAN:
            self._tool(item.get("name") or kind)  # computer_call, shell_call... have no name
        texts = []
        for content in item.get("content") if isinstance(item.get("content"), list) else []:
            if isinstance(content, dict) and content.get("type") == "output_text":
                texts.append((TEXT, content.get("text")))
                self._cite(content.get("annotations"))
            elif isinstance(content, dict) and content.get("type") == "refusal":
                texts.append((REFUSAL, content.get("refusal")))
        if index in self._taken or None in self._taken:
            return []
        return [p for kind, text in texts for p in self._text(kind, _text_of(text), index)]

    def _text(self, kind: str, text: str, key: "Any") -> "List[Part]":
        """Text of one output item (or reasoning summary part); a blank line between them."""
        if not text:
            return []
        last = self._last.get(kind, key)
        self._last[kind] = key
        if kind != REASONING:
            self._taken.add(key)
        return [Part(kind, text if last == key else "\n\n" + text)]


ADAPTERS = {a.name: a for a in (ChatAdapter, CompletionsAdapter, ResponsesAdapter)}

# The C scanner without loads()'s Python frames: a chunk parses in about half the time (2.1
# against 3.8 us on CPython 3.11), the largest cost per token. _loads has the checks it skips.
_scan_json = json.JSONDecoder().scan_once  # type: ignore


def _parse_json(data: str) -> "Dict[str, Any]":
    try:
        if len(data) > 65536:  # large: the checks in _loads
            raise ValueError(data)
        obj, end = _scan_json(data, 0)
        if end != len(data) and data[end:].strip():
            raise ValueError("extra data")
    except (StopIteration, ValueError, RecursionError):  # StopIteration: no value at the start
        obj = _loads(data, "invalid JSON in stream event")
    if type(obj) is list and len(obj) == 1 and type(obj[0]) is dict:
        obj = obj[0]  # Gemini's [{"error": {...}}]
    if type(obj) is not dict:
        raise ProtocolError("unexpected stream event (not a JSON object): %s" % _excerpt(data))
    return obj


def _loads(text: str, what: str) -> "Any":
    """json.loads whose every failure is a ProtocolError: bad syntax, nesting that exhausts
    the stack, an integer too long (3.11+), more values than MAX_JSON_VALUES (`[{},{},...]`)."""
    if len(text) > 65536 and sum(map(text.count, "{[,")) > MAX_JSON_VALUES:
        raise ProtocolError("%s: more than %d values" % (what, MAX_JSON_VALUES))
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("%s: %s" % (what, _excerpt(text)))


def _text_of(value: "Any") -> str:
    """Text of a content field: a string, or a list of parts as some servers send."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p["text"] if isinstance(p, dict) and isinstance(p.get("text"), str)
                       else p if isinstance(p, str) else "" for p in value)
    return ""


class ThinkSplitter:
    """A leading <think>...</think> block in the answer text is reasoning (DeepSeek-R1 behind
    some routers, Qwen3 without a reasoning parser). Only a possible tag prefix is held."""
    OPEN, CLOSE = "<think>", "</think>"
    state = "start"  # start: nothing yet; think: inside; after: just closed; text
    held = ""  # what may begin a tag

    def feed(self, parts: "List[Part]") -> "List[Part]":
        out = []  # type: List[Part]
        for part in parts:
            if part.kind != TEXT or self.state == "text":
                out.append(part)
                continue
            text, self.held = self.held + part.text, ""
            if self.state == "start":
                head = text.lstrip()
                if self.OPEN.startswith(head) and len(text) < 256:  # maybe the tag, not yet all
                    self.held = text
                    continue
                self.state = "text"
                if head.startswith(self.OPEN):
                    self.state, text = "think", head[len(self.OPEN):]
            if self.state == "think":
                end = text.find(self.CLOSE)
                cut = end if end >= 0 else text.rfind("<")  # a last "<" may begin the tag
                if cut < 0 or end < 0 and not self.CLOSE.startswith(text[cut:]):
                    cut = len(text)
                if cut:
                    out.append(Part(REASONING, text[:cut]))
                if end < 0:
                    self.held = text[cut:]  # what may begin the closing tag
                    continue
                self.state, text = "after", text[end + len(self.CLOSE):]
            if self.state == "after":  # the newlines that separate the block from the answer
                text = text.lstrip("\n")
            if text:
                self.state = "text"
                out.append(Part(TEXT, text))
        return out

    def eof(self) -> "List[Part]":
        """End of stream: what was held back is text (start) or reasoning (inside)."""
        held, self.held = self.held, ""
        return [Part(REASONING if self.state == "think" else TEXT, held)] if held else []


def _error_from(obj: "Any", status: "Optional[int]" = None, url: "Optional[str]" = None
                ) -> APIError:
    """An APIError from OpenAI's error object, vLLM's {"object": "error"}, FastAPI's {"detail"},
    Gemini's [{"error"}], Cloudflare's {"errors": [...]}, or anything else a server sends."""
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    err = obj.get("error", obj) if isinstance(obj, dict) else obj
    errors = err.get("errors") if isinstance(err, dict) and not err.get("message") else None
    if isinstance(errors, list) and errors:
        err = errors[0]  # Cloudflare's envelope
    if not isinstance(err, dict):
        return APIError(_one_line(err if isinstance(err, str) else _dumps(err)), status, url=url)
    message = err.get("message") or err.get("detail") or err.get("msg")
    if not isinstance(message, str):
        message = _dumps(message if message is not None else err)
    code, param = err.get("code"), err.get("param")
    if type(code) is not int:
        code = _one_line(code, 100) if code else None
    etype = err.get("type") or err.get("status")  # Gemini: "status": "INVALID_ARGUMENT"
    return APIError(_one_line(message), status, code, _one_line(etype, 100) if etype else None,
                    param if isinstance(param, str) else None, url=url)


def _dumps(obj: "Any") -> str:
    """Strict JSON (--json's data is parsed without NaN), or a repr excerpt: never raises."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return _excerpt(obj, 1000)


def _excerpt(text: "Any", limit: int = 200) -> str:
    """A short, single-line, printable excerpt of a body for an error message, quoted."""
    return repr(_one_line(text, limit))


def _one_line(text: "Any", limit: int = 500) -> str:
    """Server text made safe for one line of stderr: no newlines, no terminal escapes."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)[:limit * 4]).split())
    return text[:limit] + ("..." if len(text) > limit else "")


# ---------------------------------------------------------------------------
# The whole answer, pure: raw body bytes in, events and parts out (both transports use it)
# ---------------------------------------------------------------------------

_FIELDS = (b"data:", b"event:", b"id:", b"retry:")


class AnswerDecoder:
    """Raw body bytes in; per read, the events and their Parts out: framing, decompression,
    stream or JSON, SSE, the adapter, think tags. An error after some output waits: check()."""

    def __init__(self, adapter: Adapter, status: int, headers: "Dict[str, str]",
                 think_tags: bool = True) -> None:
        self.adapter, self.status = adapter, status
        self.content_type = headers.get("content-type", "").lower()
        self.framer = BodyFramer(*body_framing(status, headers))
        coding = headers.get("content-encoding", "").strip().lower()
        self.inflater = None if coding in ("", "identity") else Inflater(coding)
        self.sse = None  # type: Optional[SSEDecoder]  # once the body is known to be a stream
        self.json = None  # type: Optional[bytearray]  # once it is known to be one JSON answer
        self.head = b""  # leading blank bytes, held until the first real byte decides
        self.think = ThinkSplitter() if think_tags else None
        self.answered = False  # answer or refusal text arrived
        self.ended = self.framer.complete  # nothing more will come (Content-Length: 0, 204...)
        self.error = (ProtocolError("the server answered %d but sent an empty body" % status)
                      if self.ended else None)  # type: Optional[OAIStreamError]
        self.backlog = False  # output is still to come from bytes already received: feed(b"")
        self.progressed = False  # the last read brought answer bytes (not blank or comments)

    def feed(self, raw: "Optional[bytes]") -> "Tuple[List[Event], List[Part]]":
        events, parts = [], []  # type: List[Event], List[Part]
        try:
            if raw is None:  # the connection closed: eof()
                self.framer.eof()
            else:
                body = self.framer.feed(raw) if raw else b""
                if self.inflater is not None:
                    body = self.inflater.feed(body)
                    self.backlog = self.inflater.pending
                self._take(body, events, parts)
                # Progress: an event with data, or the bytes of one on its way. Keep-alives
                # (`:` comments, blank lines, empty `data:` events) are none.
                start = body.lstrip(b"\r\n")
                self.progressed = (any(e.data.strip() for e in events) if events
                                   else bool(start) and start[:1] != b":")
                if self.framer.error:
                    raise self.framer.error
            if raw is None or self.framer.complete and not self.backlog:
                self._eof(events, parts)
        except OAIStreamError as exc:
            if not events and not parts:
                raise
            self.error, self.ended = exc, True
        return events, parts

    def eof(self) -> "Tuple[List[Event], List[Part]]":
        return self.feed(None)

    def check(self) -> None:
        """After the last read: raise what went wrong, or say why the answer is not whole."""
        if self.error:
            raise self.error
        if not self.adapter.complete():
            raise IncompleteStream("stream ended before the answer was complete")
        if self.adapter.meaning == FAILURE:
            raise APIError("the server ended the answer with a failure (%s)" % self.adapter.why)
        guess = None if self.answered else self.adapter.looks_like()
        if guess or not self.answered and self.adapter.finish_reason is None:
            raise EmptyAnswer("the stream ended without any text" + (
                "; its events look like api=%r chunks" % guess if guess
                else " and without a finish reason"), guess)

    def _take(self, data: bytes, events: "List[Event]", parts: "List[Part]") -> None:
        if self.sse is None:
            if self.json is None:
                data = self.head + data
                start = data.lstrip(b"\xef\xbb\xbf \t\r\n")
                if not start or len(start) < 6 and any(f.startswith(start) for f in _FIELDS):
                    self.head = data[-MAX_HEAD_SIZE:]  # blank lines, or "da": nothing decides yet
                    return
                self.json = bytearray() if self._is_json(start) else None
                self.sse = SSEDecoder() if self.json is None else None
            if self.json is not None:
                self.json += data
                if len(self.json) > MAX_BODY_SIZE:
                    raise ProtocolError("JSON answer larger than %d bytes" % MAX_BODY_SIZE)
                return
        self._events(self.sse.feed(data), events, parts)

    def _events(self, new: "List[Event]", events: "List[Event]", parts: "List[Part]") -> None:
        """Events through the adapter, their parts through the think splitter."""
        if not new:
            return
        events += new
        feed, out = self.adapter.feed, []  # type: Any, List[Part]
        try:
            for event in new:
                if event.data:  # `data:` with nothing after it: a relay's keep-alive
                    out += feed(event)
        finally:  # the parts before an error event go through the think splitter too
            if self.think is not None and out:
                out = self.think.feed(out)
                if self.think.state == "text" and not self.think.held:
                    self.think = None  # past the think block: no more work per delta
            parts += out
        if self.adapter.ended:  # nothing comes after the terminal event: don't wait for a close
            self.ended = True
            if self.think is not None:
                parts += self.think.eof()
        self.answered = self.answered or any(p.kind != REASONING for p in parts)

    def _eof(self, events: "List[Event]", parts: "List[Part]") -> None:
        self.ended = True
        if self.json is not None:
            text = self.json.decode("utf-8", "replace")
            obj = _loads(text, "invalid JSON answer")
            if not isinstance(obj, dict):
                raise ProtocolError("unexpected JSON answer: %s" % _excerpt(text))
            events.append(Event("json", text, None, None))
            answer = self.adapter.from_json(obj)
            parts += self.think.feed(answer) if self.think is not None else answer
        elif self.sse is not None:
            # A whole last event that the server closed without its blank line ends the
            # answer (openai-node #2725); one cut in the middle is dropped, and the answer
            # stays incomplete. SSEDecoder itself stays WHATWG-exact.
            try:
                self._events(self.sse.feed(b"\n\n"), events, parts)
            except ProtocolError:
                pass
            self.sse.close()
        elif not self.head:
            raise ProtocolError("the server answered %d but sent an empty body" % self.status)
        if self.think is not None:
            parts += self.think.eof()
        self.answered = self.answered or any(p.kind != REASONING for p in parts)

    def _is_json(self, start: bytes) -> bool:
        """Decide by the first bytes, then the Content-Type: servers mislabel both ways. An
        HTML page or other body, as a captive portal or a gateway sends, is refused."""
        if start.startswith(_FIELDS + (b":",)):
            return False
        if "json" in self.content_type or start[:1] == b"{":
            return True
        if "event-stream" in self.content_type:
            return False
        raise ProtocolError("expected an event stream, got %s: %s" % (
            _excerpt(self.content_type or "no content type"), _excerpt(start)))


# ---------------------------------------------------------------------------
# Policy, pure: how a failed response becomes an error, what is retried and how long to wait,
# where a redirect may go. Both transports ask these.
# ---------------------------------------------------------------------------

RETRY_STATUSES = (408, 409, 429)  # and every 5xx, as the official SDK
# Error codes and types in a 200 stream that mean the same as a retryable status.
RETRY_CODES = {"server_error", "overloaded_error", "server_is_overloaded", "rate_limit_exceeded",
               "rate_limit_error", "api_error", "timeout_error", "service_unavailable_error",
               "slow_down", "internal_error", "overloaded"}


def api_error(status: int, reason: str, headers: "Dict[str, str]", body: bytes, url: str
              ) -> APIError:
    """An HTTP error status: the server's message or a body excerpt, and its retry headers."""
    text = body.decode("utf-8", "replace")
    try:
        err = _error_from(json.loads(text), status, url)
    except (ValueError, RecursionError):
        reason = _one_line(reason, 100)
        err = APIError((reason + ": " if reason else "") + _excerpt(text) if text.strip()
                       else reason or "no details", status, url=url)
    err.retry_after = retry_after(headers)
    flag = headers.get("x-should-retry", "").strip().lower()
    err.should_retry = {"true": True, "false": False}.get(flag)
    return err


def retry_after(headers: "Dict[str, str]") -> "Optional[float]":
    """Seconds from retry-after-ms (OpenAI) or Retry-After (seconds or date), <= MAX_RETRY_WAIT."""
    for name, unit in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            wait = float(headers.get(name, "")) / unit
        except ValueError:
            continue
        if 0 <= wait < float("inf"):  # NaN, inf and negatives are ignored
            return min(wait, MAX_RETRY_WAIT)
    from email.utils import mktime_tz, parsedate_tz
    parsed = parsedate_tz(headers.get("retry-after", ""))
    try:
        return min(max(0.0, mktime_tz(parsed) - time.time()), MAX_RETRY_WAIT) if parsed else None
    except (OverflowError, ValueError, OSError):  # a date in the year 9999 and kin
        return MAX_RETRY_WAIT


def retryable(exc: OAIStreamError) -> bool:
    if isinstance(exc, APIError):
        if exc.should_retry is not None:  # x-should-retry wins, as in the official SDK
            return exc.should_retry
        if exc.status is not None:
            return exc.status in RETRY_STATUSES or exc.status >= 500
        code = exc.code  # an error event in a 200 stream: by its code or type
        return (code in RETRY_STATUSES or type(code) is int and code >= 500
                or code in RETRY_CODES or exc.type in RETRY_CODES)
    return isinstance(exc, NetworkError) and exc.retryable


def retry_wait(exc: OAIStreamError, attempt: int, rand: float) -> float:
    """Seconds before retry `attempt` (1, 2...): the server's word, else backoff with jitter."""
    if isinstance(exc, APIError) and exc.retry_after is not None:
        return min(max(exc.retry_after, 0.0), MAX_RETRY_WAIT)  # a caller's APIError too
    backoff = min(RETRY_FIRST_WAIT * 2 ** (attempt - 1), RETRY_MAX_BACKOFF)
    return backoff * (1 - RETRY_JITTER * rand)


def without_rejected_field(request: "Request", exc: OAIStreamError) -> "Optional[Request]":
    """The request without a field of the adapter's own that a 400/422 rejects, else None."""
    if not isinstance(exc, APIError) or exc.status not in (400, 422):
        return None
    if not re.search("(?i)unsupported|unrecognized|unknown|not (?:permitted|allowed|supported)"
                     "|extra (?:inputs|fields)|invalid (?:field|param)", exc.message):
        return None  # "max_tokens is too large" is no rejection
    for name, other in ADAPTERS[request.api].optional_fields.items():
        named = exc.param == name or name in exc.message
        if name in request.body and name not in request.fixed and named and not (
                other and other in request.body):
            body = {key: value for key, value in request.body.items() if key != name}
            if other:  # the field under its other name
                body[other] = request.body[name]
            return request._replace(body=body, fixed=request.fixed + (name, other or name))
    return None


def redirect_target(url: str, status: int, location: str) -> str:
    """Where a redirect may take the request: 307/308 within the same origin only."""
    from urllib.parse import urljoin
    try:
        target = _ascii_url(urljoin(url, location))
    except ValueError:  # a broken IPv6 bracket, a host that is no valid name
        target = location
    shown = _one_line(_without_password(target), 300)  # server text on the user's terminal
    if not location:
        raise RedirectError("HTTP %d redirect without a Location" % status, "")
    if status not in (307, 308):
        raise RedirectError("server redirected (HTTP %d) to %s; not following: it would turn "
                            "the POST into a GET. Use that URL as the base URL"
                            % (status, shown), target)
    if _origin(target) != _origin(url):
        raise RedirectError("server redirected (HTTP %d) to another origin, %s; not following "
                            "with your key. Use that URL as the base URL if you trust it"
                            % (status, shown), target)
    return target


def network_error(reason: "Any", url: str, proxy: "Optional[str]" = None,
                  timeout: float = DEFAULT_TIMEOUT) -> NetworkError:
    """A connection failure as one line, marked retryable or not, with a fix where there is one."""
    import http.client
    import socket
    ssl = sys.modules.get("ssl")  # loaded when TLS was tried; some builds have none
    host = "%s://%s:%d" % _origin(url)
    text = _one_line(reason)
    if ssl is not None and isinstance(reason, (ssl.SSLError, ssl.CertificateError)):
        code = str(getattr(reason, "reason", None) or "")
        if isinstance(reason, ssl.CertificateError) or code == "CERTIFICATE_VERIFY_FAILED":
            hint = "To trust a corporate CA, set SSL_CERT_FILE to its PEM file"
            if _PLATFORM == "darwin":  # python.org's builds ship no CA bundle
                hint = ('On macOS, run "Install Certificates.command" in the Python folder of '
                        "Applications once; to trust a corporate CA, set SSL_CERT_FILE to its "
                        "PEM file")
            exc = NetworkError("TLS certificate verification failed for %s: %s. %s" % (
                host, getattr(reason, "verify_message", None) or code or text, hint))
            exc.retryable = False
        else:
            exc = NetworkError("TLS error with %s: %s" % (host, text))
            # A handshake the server or a balancer drops (UNEXPECTED_EOF_WHILE_READING, a
            # reset) heals, as the official SDK retries it; a protocol mismatch does not.
            exc.retryable = not re.search("CERTIFICATE|VERSION|PROTOCOL|HANDSHAKE_FAILURE", code)
    elif text.startswith("Tunnel connection failed"):  # http.client gives it no type of its own
        exc = NetworkError("the proxy refused the tunnel to %s: %s (check HTTPS_PROXY and its "
                           "user:password)" % (host, text.split(": ", 1)[-1]))
        exc.retryable = False
    elif isinstance(reason, socket.timeout):
        exc = IdleTimeout(timeout, host=host)
    elif isinstance(reason, http.client.RemoteDisconnected):
        exc = NetworkError("%s closed the connection without answering" % host)
    elif isinstance(reason, http.client.HTTPException):  # BadStatusLine, LineTooLong and kin
        exc = NetworkError("%s did not answer with valid HTTP: %s" % (host, _excerpt(text)))
    else:  # the system's words (strerror)
        exc = NetworkError("cannot %s %s: %s" % (
            "resolve" if isinstance(reason, socket.gaierror) else "reach", host,
            getattr(reason, "strerror", None) or text or type(reason).__name__))
    if proxy:
        exc.args = ("%s (through the proxy %s)" % (exc, _without_password(proxy)),)
    return exc


def _origin(url: str) -> "Tuple[str, str, int]":
    """(scheme, host, port); a URL with a bad port or host gets port -1, an origin of its own."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "", url, -1
    return parts.scheme, (parts.hostname or "").lower(), port


def _without_password(url: str) -> str:
    """A URL as it may be shown: user:password@ removed."""
    return re.sub(r"^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?)[^/?#]*@", r"\1***@", url)


# ---------------------------------------------------------------------------
# Configuration: parameters and environment in, one request description out
# ---------------------------------------------------------------------------


class Request(namedtuple("Request", "api url body headers api_key timeout max_time retries "
                                    "fixed think_tags key_withheld")):
    """Everything needed to send one request; the key stays out of repr(). `fixed`: body fields
    the caller set, never dropped by a fallback. `key_withheld`: see allow_http_key."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "Request(url=%r, model=%r, key=%s)" % (
            _without_password(self.url), (self.body or {}).get("model"), _redact_key(self.api_key))

    def send_headers(self) -> "Dict[str, str]":
        """The headers as sent, the key in its Authorization header."""
        headers = dict(self.headers)
        if self.api_key and not _has_header(headers, "authorization"):
            headers["Authorization"] = "Bearer " + self.api_key
        return headers


def _redact_key(key: "Optional[str]") -> str:
    if not key:
        return "none"
    return "..." + key[-4:] if len(key) > 12 else "***"  # short: nothing of it is shown


def _has_header(headers: "Dict[str, str]", *names: str) -> bool:
    """Whether any of `names` (lower-case) is set, whatever the case it was given in."""
    return any(str(h).lower() in names for h in headers)  # a bad name is refused later


def build_request(prompt: "Optional[str]" = None, *,
                  messages: "Optional[List[Dict[str, Any]]]" = None,
                  model: "Optional[str]" = None, system: "Optional[str]" = None,
                  api: str = "chat", base_url: "Optional[str]" = None,
                  api_key: "Optional[str]" = None, temperature: "Optional[float]" = None,
                  max_tokens: "Optional[int]" = None, headers: "Optional[Dict[str, str]]" = None,
                  timeout: float = DEFAULT_TIMEOUT, max_time: "Optional[float]" = None,
                  retries: int = DEFAULT_RETRIES, usage: bool = False,
                  extra_body: "Optional[Dict[str, Any]]" = None, think_tags: bool = True,
                  no_stream: bool = False, allow_http_key: bool = False,
                  env: "Optional[Dict[str, str]]" = None) -> Request:
    """Check the parameters and resolve them with the environment (as the official SDK
    reads it) into a Request. Every mistake is a ConfigError that names the parameter."""
    env = dict(os.environ) if env is None else env
    if api not in ADAPTERS:
        raise ConfigError("api must be one of %s, got %r" % (", ".join(ADAPTERS), api), "api")
    if messages is None:
        messages = [{"role": "user", "content": prompt or ""}]
    elif prompt is not None:
        raise ConfigError("pass prompt or messages, not both")
    elif not isinstance(messages, (list, tuple)) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise ConfigError("messages must be a list of {\"role\": ..., \"content\": ...} dicts")
    messages = ([{"role": "system", "content": system}] if system else []) + list(messages)
    _check_numbers(timeout, max_time, temperature, retries, max_tokens)
    model = model or env.get("OPENAI_MODEL") or DEFAULT_MODEL
    url, headers, api_key, withheld = _endpoint_and_key(
        ADAPTERS[api].path, model, base_url, api_key, dict(headers or {}), allow_http_key, env)
    openai_host = _origin(url)[1] == "api.openai.com"
    if openai_host and not api_key and not _has_header(headers, "authorization", "api-key"):
        raise ConfigError("no API key: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE) to your key "
                          "from platform.openai.com/api-keys")
    for var, name in (("OPENAI_ORG_ID", "OpenAI-Organization"),
                      ("OPENAI_PROJECT_ID", "OpenAI-Project")):
        if env.get(var) and not _has_header(headers, name.lower()):
            headers[name] = env[var]
    body = ADAPTERS[api]().body(model, messages, max_tokens, temperature, usage, openai_host,
                                not no_stream)
    extra_body = dict(extra_body or {})
    _dumps_strict(extra_body)
    body.update(extra_body)
    defaults = {
        "Content-Type": "application/json",
        "Accept": "application/json" if no_stream else "text/event-stream",
        "Accept-Encoding": "identity",  # a compressed stream would be held back in buffers
        "User-Agent": "oai_stream/%s (Python %s)" % (__version__, sys.version.split()[0]),
    }
    sent = {name: value for name, value in defaults.items()
            if not _has_header(headers, name.lower())}
    for name, value in headers.items():
        if not isinstance(name, str) or not re.fullmatch(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+", name):
            raise ConfigError("invalid header name %s" % _excerpt(name, 40))
        shown = "the value of header %s" % _one_line(name, 40)
        sent[name] = _clean_secret(str(value), shown) if str(value).strip() else ""
    return Request(api, url, body, sent, api_key, float(timeout),
                   float(max_time) if max_time else None, retries, tuple(extra_body),
                   think_tags, withheld)


def _check_numbers(timeout: "Any", max_time: "Any", temperature: "Any", retries: "Any",
                   max_tokens: "Any") -> None:
    for name, value, positive in (("timeout", timeout, True), ("max_time", max_time, True),
                                  ("temperature", temperature, False)):
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not -MAX_TIMEOUT <= value <= MAX_TIMEOUT  # NaN, inf too
                                  or positive and value <= 0):
            raise ConfigError("%s must be a number%s, got %r" % (
                name, " > 0 and <= %d" % MAX_TIMEOUT if positive else "", value), name)
    for name, value, low in (("retries", retries, 0), ("max_tokens", max_tokens, 1)):
        if value is not None and (type(value) is not int or value < low):
            raise ConfigError("%s must be an integer >= %d, got %r" % (name, low, value), name)


def _endpoint_and_key(path: str, model: str, base_url: "Optional[str]",
                      api_key: "Optional[str]", headers: "Dict[str, str]", allow_http_key: bool,
                      env: "Dict[str, str]") -> "Tuple[str, Dict[str, str], Optional[str], bool]":
    """URL, headers, key, key withheld: no key goes via http:// beyond loopback unless allowed."""
    from urllib.parse import quote, urlsplit, urlunsplit
    base_url = base_url or env.get("OPENAI_BASE_URL")
    azure = not base_url and env.get("AZURE_OPENAI_ENDPOINT")
    if azure:
        # Azure OpenAI: a dated api-version uses the deployment URL; none uses the v1 API.
        version = quote(env.get("OPENAI_API_VERSION", "").strip(), safe="")
        base_url = azure.rstrip("/") + ("/openai/deployments/%s?api-version=%s" % (
            quote(model, safe=""), version) if version else "/openai/v1")
        api_key = api_key or env.get("AZURE_OPENAI_API_KEY")
    elif api_key is None:
        api_key = env.get("OPENAI_API_KEY") or _key_from_file(env.get("OPENAI_API_KEY_FILE"))
    base_url = base_url or DEFAULT_BASE_URL
    shown = _excerpt(_without_password(base_url), 100)
    if any(c <= " " or c == "\x7f" for c in base_url):
        raise ConfigError("base_url contains white space or a control character: %s" % shown,
                          "base_url")
    try:
        parts = urlsplit(base_url)
        parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        raise ConfigError("base_url has a bad host or port: %s" % shown, "base_url")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("base_url must be http:// or https:// with a host, got %s" % shown,
                          "base_url")
    base_path = parts.path.rstrip("/")
    if not base_path.endswith(path) or base_path.endswith("/chat" + path):
        base_path += path  # else a full endpoint URL, accepted as it is
    try:
        url = _ascii_url(urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], base_path,
                                     parts.query, "")))
    except ValueError:
        raise ConfigError("base_url has a host that is not a valid domain name: %s" % shown,
                          "base_url")
    withheld = bool(api_key) and not allow_http_key and (
        url.startswith("http:") and not _is_loopback(_origin(url)[1]))
    if withheld:
        api_key = None
    if azure and api_key:  # Azure takes the key in a header of its own
        if not _has_header(headers, "api-key"):
            headers["api-key"] = _clean_secret(api_key, "the API key")
        api_key = None
    if parts.username is not None and not _has_header(headers, "authorization"):
        # user:password@ in the URL wins, sent as a header: the URL is shown
        headers["Authorization"], api_key = _basic(parts), None
    return url, headers, _clean_secret(api_key, "the API key") if api_key else None, withheld


def _dumps_strict(body: "Any") -> bytes:
    """The request body as JSON; NaN, Infinity and absurd nesting are the caller's mistake."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8",
                                                                             "surrogatepass")
    except (ValueError, TypeError, RecursionError) as exc:
        raise ConfigError("the request body cannot be sent as JSON: %s"
                          % ("nested too deeply" if isinstance(exc, RecursionError)
                             else _one_line(exc, 100)))


def _clean_secret(value: str, what: str) -> str:
    """Stripped (a CRLF .env file, a pasted key); what a header cannot carry is refused unshown."""
    value = value.strip()
    if not value or any(c < " " or c == "\x7f" for c in value):
        problem = "a control character or line break inside it"
    elif any(c > "\xff" for c in value):
        problem = "characters that cannot be sent in an HTTP header (not Latin-1)"
    else:
        return value
    raise ConfigError("%s contains %s; fix the value (it is not shown here)" % (what, problem))


def _ascii_url(url: str) -> str:
    """A URL as HTTP carries it: path percent-encoded, an IDN host in punycode (or ValueError)."""
    if all(c < "\x80" for c in url):
        return url
    from urllib.parse import quote, urlsplit, urlunsplit
    parts = urlsplit(url)
    netloc = parts.netloc
    if any(c >= "\x80" for c in netloc):
        netloc = (parts.hostname or "").encode("idna").decode("ascii") + (
            ":%d" % parts.port if parts.port else "")
    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe="/%:@!$&'()*+,;=~"),
                       quote(parts.query, safe="/?%:@!$&'()*+,;=~"), ""))


def _basic(parts: "Any") -> str:
    """Basic credentials from the user:password@ of a split URL."""
    import base64
    from urllib.parse import unquote
    pair = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def _key_from_file(path: "Optional[str]") -> "Optional[str]":
    if not path:
        return None
    try:
        with open(os.path.expanduser(path), "rb") as f:
            raw = f.read(65536)
    except OSError as exc:
        raise ConfigError("cannot read the API key file %s: %s" % (path, exc.strerror))
    try:  # a BOM, as Windows editors write; UTF-16, as PowerShell's `>` and Out-File write
        text = raw.decode("utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the API key file %s is not UTF-8 text" % path)
    return _clean_secret(text, "the API key file %s" % path) if text.strip() else None


# ---------------------------------------------------------------------------
# Transport 1: urllib, blocking (the CLI and stream())
# ---------------------------------------------------------------------------


def _urlopen(request: Request, timeout: float) -> "Any":
    """POST once (GET without a body), following redirects the policy allows: a 2xx answer."""
    import http.client
    import urllib.error
    import urllib.request
    from contextlib import suppress
    url = request.url
    proxy = _proxy_for(url)
    opener = urllib.request.OpenerDirector()  # no redirect or error handlers: see the status
    opener.add_handler(_handler_class()())
    opener.add_handler(urllib.request.UnknownHandler())  # a socks5:// proxy: "unknown url type"
    if proxy:
        opener.add_handler(urllib.request.ProxyHandler({url.partition(":")[0]: proxy}))
    data = _dumps_strict(request.body) if request.body is not None else None  # None: GET
    # CPython 3.6's ssl.CertificateError is a ValueError, not an OSError (http.client loaded ssl)
    bad_certificate = getattr(sys.modules.get("ssl"), "CertificateError", OSError)
    for _ in range(MAX_REDIRECTS + 1):
        req = urllib.request.Request(url, data, request.send_headers(),
                                     method="POST" if data else "GET")
        try:
            response = _interruptible(opener.open, req, None, timeout)  # (data: in req)
        except urllib.error.URLError as exc:
            raise network_error(exc.reason, url, proxy, timeout)
        except (OSError, http.client.HTTPException, bad_certificate) as exc:
            raise network_error(exc, url, proxy, timeout)
        if 200 <= response.status < 300:
            return response
        headers, body = _header_dict(response.headers.items()), b""
        with response:  # closed on every way out
            if response.status in (301, 302, 303, 307, 308):
                url = redirect_target(url, response.status, headers.get("location", ""))
                continue
            with suppress(OSError, http.client.HTTPException):
                while len(body) < MAX_ERROR_BODY:  # what came before a stall or a cut is kept
                    more = response.read1(MAX_ERROR_BODY - len(body))
                    if not more:
                        break
                    body += more
        raise api_error(response.status, response.reason, headers, body, url)
    raise RedirectError("too many redirects (more than %d)" % MAX_REDIRECTS, url)


def _interruptible(call: "Callable[..., Any]", *args: "Any") -> "Any":
    """call(*args). A blocking socket call ignores Ctrl-C on Windows (cpython#85609): there it
    runs in a thread, waited for in INTERRUPT_POLL slices (the caller's close() ends it)."""
    if _PLATFORM != "win32":
        return call(*args)
    import threading
    result = []  # type: List[Any]

    def run() -> None:
        try:
            result.append((True, call(*args)))
        except BaseException as exc:  # handed to the waiting thread as it is
            result.append((False, exc))
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(INTERRUPT_POLL)
    ok, value = result[0]
    if not ok:
        raise value
    return value


@lru_cache(None)  # made once, on first use
def _handler_class() -> "Any":
    """urllib's handler of http: and https: URLs: 1xx heads skipped, the socket kept (timeouts)."""
    import http.client
    import urllib.request

    class Response(http.client.HTTPResponse):
        def __init__(self, sock: "Any", *args: "Any", **kw: "Any") -> None:
            super().__init__(sock, *args, **kw)
            self.sock = sock

        def _read_status(self) -> "Any":  # http.client skips 100 only; 103 Early Hints too
            for _ in range(MAX_INTERIM):
                version, status, reason = super()._read_status()  # type: ignore
                if not 100 <= status < 200 or status == 101:
                    return version, status, reason
                http.client.parse_headers(self.fp)  # with http.client's limits; dropped
            raise http.client.BadStatusLine("more than %d interim (1xx) answers" % MAX_INTERIM)

    class HTTP(http.client.HTTPConnection):
        response_class = Response

    # Without ssl there is no HTTPSConnection, but then https_open refuses before using it.
    class HTTPS(getattr(http.client, "HTTPSConnection", HTTP)):  # type: ignore
        response_class = Response

    class Handler(urllib.request.AbstractHTTPHandler):
        http_request = https_request = urllib.request.AbstractHTTPHandler.do_request_

        def http_open(self, req: "Any") -> "Any":
            return self.do_open(HTTP, req)

        def https_open(self, req: "Any") -> "Any":
            context = _tls_context()  # first: a Python without ssl has no HTTPSConnection
            return self.do_open(HTTPS, req, context=context)

    return Handler


_TLS = {}  # type: Dict[Tuple[Optional[str], Optional[str]], Any]
SYSTEM_CA_BUNDLE = "/etc/ssl/cert.pem"  # macOS's own, for a Python that ships none


def _tls_context() -> "Any":
    """Certificates verified against the system store, SSL_CERT_FILE and SSL_CERT_DIR. Loading
    them takes milliseconds: one context per trust setting, shared by every request."""
    trust = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    if trust in _TLS:
        return _TLS[trust]
    try:
        import ssl
    except ImportError:
        raise ConfigError("base_url is https:// but this Python has no TLS (no ssl module): "
                          "use http:// on a trusted network, or a Python with ssl", "base_url")
    from contextlib import suppress
    if _PLATFORM == "win32":
        # One malformed certificate in the Windows store makes create_default_context()
        # raise on 3.8-3.12: load them one by one and skip the bad ones, as 3.13 does.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with suppress(OSError):  # a store that cannot be read: the others still count, as in 3.13
            for cert in _windows_store(ssl):
                with suppress(ssl.SSLError, ValueError):  # malformed, or empty
                    ctx.load_verify_locations(cadata=cert)
        ctx.set_default_verify_paths()
    else:
        ctx = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if _PLATFORM == "darwin" and not (paths.cafile or paths.capath):
        # python.org's builds have no bundle until "Install Certificates.command" ran
        with suppress(OSError):  # ssl.SSLError is an OSError
            ctx.load_verify_locations(SYSTEM_CA_BUNDLE)
    _TLS[trust] = ctx
    return ctx


def _windows_store(ssl: "Any") -> "List[bytes]":
    """The certificates of the Windows stores that create_default_context() reads."""
    return [cert for store in ("CA", "ROOT") for cert, encoding, trust in
            ssl.enum_certificates(store)  # type: ignore  # Windows only
            if encoding == "x509_asn" and (trust is True or "1.3.6.1.5.5.7.3.1" in trust)]


def _read_error(exc: BaseException) -> OAIStreamError:
    return NetworkError("stream interrupted: %s" % (
        getattr(exc, "strerror", None) or _one_line(exc) or type(exc).__name__))


# ---------------------------------------------------------------------------
# Transport 2: asyncio (astream()): the same pure pieces over loop.create_connection
# ---------------------------------------------------------------------------


class _Connection:
    """An asyncio protocol, duck-typed (`import oai_stream` loads no asyncio): a buffer for one
    reader, paused past READ_SIZE * 4; one timer per connection (not per read), moved sooner."""

    def __init__(self, loop: "Any") -> None:
        self.loop, self.transport = loop, None  # type: Any, Any
        self.buffer = []  # type: List[bytes]
        self.size = 0
        self.closed = self.paused = False
        self.error = None  # type: Optional[BaseException]
        self.waiter = self.timer = None  # type: Any
        self.deadline = 0.0

    def connection_made(self, transport: "Any") -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer.append(data)
        self.size += len(data)
        if self.size > READ_SIZE * 4 and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake(True)

    def connection_lost(self, exc: "Optional[BaseException]" = None) -> None:
        self.closed, self.error = True, exc
        self._wake(True)

    eof_received = connection_lost  # returns None: the transport then closes itself

    def pause_writing(self) -> None:  # the request is written once: nothing waits on it
        pass

    resume_writing = pause_writing

    def _wake(self, arrived: bool) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(arrived)

    def _expire(self) -> None:
        if self.loop.time() < self.deadline:  # the deadline moved on since: wait for it
            self.timer = self.loop.call_at(self.deadline, self._expire)
        else:
            self.timer = None
            self._wake(False)

    async def read(self, timeout: float) -> bytes:
        """What has arrived, waiting up to `timeout` s for something; b"" at the end."""
        if not self.buffer and not self.closed:
            self.deadline = self.loop.time() + timeout
            if self.timer is None or self.timer.when() > self.deadline:
                if self.timer is not None:
                    self.timer.cancel()
                self.timer = self.loop.call_at(self.deadline, self._expire)
            waiter = self.waiter = self.loop.create_future()
            try:
                if not await waiter:
                    raise IdleTimeout(timeout)
            finally:
                self.waiter = None
        if self.buffer:
            data = self.buffer[0] if len(self.buffer) == 1 else b"".join(self.buffer)
            self.buffer, self.size = [], 0
            if self.paused and not self.closed:
                self.paused = False
                self.transport.resume_reading()
            return data
        if self.error is not None:
            raise self.error
        return b""

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.abort()  # at once: no lingering TLS close_notify exchange


async def _aopen(request: Request, timeout: float
                 ) -> "Tuple[_Connection, int, Dict[str, str], bytes]":
    """_urlopen over asyncio: the connection, status, headers and what came of the body."""
    import asyncio
    import socket
    from contextlib import suppress
    url = request.url
    data = _dumps_strict(request.body)
    for _ in range(MAX_REDIRECTS + 1):
        proxy = _proxy_for(url)
        conn = _Connection(asyncio.get_running_loop())
        try:
            await _asend(conn, url, proxy, request.send_headers(), data, timeout)
            status, reason, headers, rest = await _aread_head(conn, url, timeout)
            if status < 300:
                return conn, status, headers, rest
            if status not in (301, 302, 303, 307, 308):
                framer, body = BodyFramer(*body_framing(status, headers)), b""
                with suppress(OAIStreamError, OSError):  # the body is a bonus to the status
                    body = framer.feed(rest)
                    while not framer.complete and len(body) < MAX_ERROR_BODY:
                        more = await conn.read(timeout)
                        if not more:
                            break
                        body += framer.feed(more)
                raise api_error(status, reason, headers, body[:MAX_ERROR_BODY], url)
            url = redirect_target(url, status, headers.get("location", ""))
        except BaseException as exc:
            conn.close()
            if isinstance(exc, asyncio.TimeoutError):  # wait_for's, in _asend
                raise network_error(socket.timeout(), url, proxy, timeout)
            if isinstance(exc, OSError):
                raise network_error(exc, url, proxy, timeout)
            raise
        conn.close()  # redirected
    raise RedirectError("too many redirects (more than %d)" % MAX_REDIRECTS, url)


async def _aread_head(conn: "_Connection", url: str,
                      timeout: float) -> "Tuple[int, str, Dict[str, str], bytes]":
    """The response head; each read that brings bytes of it is progress."""
    host = "%s://%s:%d" % _origin(url)
    buf = b""
    while True:
        more = await conn.read(timeout)
        if not more:
            raise NetworkError("%s closed the connection without answering" % host)
        buf += more
        try:
            head = parse_head(buf)
        except ValueError as exc:
            raise NetworkError("%s did not answer with valid HTTP: %s" % (host, exc))
        if head is not None:
            return head


async def _asend(conn: _Connection, url: str, proxy: "Optional[str]",
                 headers: "Dict[str, str]", data: bytes, timeout: float) -> None:
    """Connects `conn` to the origin or through the proxy (CONNECT and start_tls for HTTPS, TLS
    verified as urllib's) and sends the POST, in absolute form to a plain-HTTP proxy."""
    import asyncio
    from urllib.parse import urlsplit
    scheme, host, port = _origin(url)
    ctx = _tls_context() if scheme == "https" else None
    target = _origin(proxy) if proxy else (scheme, host, port)
    await asyncio.wait_for(conn.loop.create_connection(  # type: ignore  # a duck-typed protocol
        lambda: conn, target[1], target[2], ssl=ctx if not proxy else None,
        server_hostname=host if ctx and not proxy else None), timeout)
    auth = []  # type: List[str]
    if proxy and urlsplit(proxy).username is not None:  # user:password@ in the proxy URL
        auth = ["Proxy-Authorization: " + _basic(urlsplit(proxy))]
    if proxy and ctx:
        tunnel = ["CONNECT %s:%d HTTP/1.1" % (host, port), "Host: %s:%d" % (host, port)] + auth
        conn.transport.write(("\r\n".join(tunnel) + "\r\n\r\n").encode("latin-1"))
        status, reason, _, _ = await _aread_head(conn, proxy, timeout)
        if status != 200:
            raise network_error("Tunnel connection failed: %d %s" % (status, reason), url, proxy)
        conn.transport = await asyncio.wait_for(conn.loop.start_tls(
            conn.transport, conn, ctx, server_hostname=host), timeout)  # type: ignore
        auth = []  # the proxy's, not the origin's
    parts = urlsplit(url)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    lines = ["POST %s HTTP/1.1" % (url if proxy and not ctx else path), "Host: " + parts.netloc,
             "Content-Length: %d" % len(data), "Connection: close"]
    lines += ["%s: %s" % item for item in headers.items()] + auth
    conn.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)


def _proxy_for(url: str) -> "Optional[str]":
    """The proxy for `url` as urllib finds it (environment; Windows' and macOS' settings), for
    both transports. None for NO_PROXY hosts and loopback, which a remote proxy cannot reach."""
    scheme, host, _ = _origin(url)
    if _is_loopback(host):
        return None
    if _PLATFORM not in ("win32", "darwin") and not any(
            k.lower().endswith("_proxy") for k in os.environ):
        return None  # the usual case, without loading urllib.request on the event loop
    import urllib.request
    return None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get(scheme)


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or re.fullmatch(r"127(\.[0-9]+){3}", host) is not None


# ---------------------------------------------------------------------------
# The stream objects users hold: Stream (sync) and AsyncStream, one shared core
# ---------------------------------------------------------------------------


class _Answer:
    """What both stream objects share: request, decoder, retries, timings, the read step."""

    def __init__(self, request: Request, on_retry: "Optional[Callable[..., None]]",
                 keep_text: bool) -> None:
        import io
        self.request, self.on_retry = request, on_retry
        self.started = time.perf_counter()  # monotonic() ticks in 15.6 ms on Windows < 3.13
        self.first_token_time = None  # type: Optional[float]
        self.elapsed = None  # type: Optional[float]
        self.text_reads = 0  # reads that brought parts: one alone measures no speed
        self.status = None  # type: Optional[int]
        self.content_type = ""
        self.adapter = self._adapter()
        self._decoder = None  # type: Any  # an AnswerDecoder once the head arrived
        self._text = io.StringIO() if keep_text else None
        self._attempt = 0
        self._delivered = False  # once the caller has output, nothing is retried
        self._progress = self.started  # when the answer last progressed (keep-alives do not)
        self._state = "new"  # new, open, closed
        self._iterated = False

    def __repr__(self) -> str:
        return "<oai_stream.%s %r>" % (type(self).__name__, self.request)

    finish_reason = property(lambda self: self.adapter.finish_reason,
                             doc="Why the answer ended: stop, length, tool_calls, completed...")
    usage = property(lambda self: self.adapter.usage, doc="The server's usage object, as sent.")
    model = property(lambda self: self.adapter.model, doc="The model that answered.")
    cut = property(lambda self: self.adapter.cut,
                   doc="Whether the server stopped the answer early (a token limit, a filter).")
    citations = property(lambda self: self.adapter.citations,
                         doc="Sources the server cited: [{'url': URL or file id, 'title': ...}].")
    tools = property(lambda self: self.adapter.tools,
                     doc="Names of the tools the model asked to call (none are run).")

    @property
    def empty(self) -> bool:
        """Whether the answer ended without any answer or refusal text."""
        return self._decoder is not None and self._decoder.ended and not self._decoder.answered

    @property
    def text(self) -> str:
        """The answer and refusal text received so far."""
        return _mend(self._text.getvalue()) if self._text is not None else ""

    def notices(self) -> "List[str]":
        """How the answer ended, for a reader: cut short, a tool call, choices not shown."""
        return self.adapter.notices()

    def batches(self) -> "Any":
        """Per network read, the Parts it completed, reasoning included."""
        return self._items("parts")

    def raw_events(self) -> "Any":
        """Per network read, its events (a JSON answer comes as one Event of type "json")."""
        return self._items("events")

    def close(self) -> None:
        """Drop the connection; the attributes keep what arrived."""
        if self.elapsed is None:
            self.elapsed = time.perf_counter() - self.started
        self._state = "closed"
        self._disconnect()

    def _adapter(self) -> Adapter:
        choices = (self.request.body or {}).get("n")
        return ADAPTERS[self.request.api](choices if type(choices) is int else 1)

    def _start(self, status: int, headers: "Dict[str, str]") -> None:
        self.adapter = self._adapter()
        self._decoder = AnswerDecoder(self.adapter, status, headers, self.request.think_tags)
        self.status, self.content_type = status, headers.get("content-type", "")
        self._progress = time.perf_counter()

    def _step(self, raw: "Optional[bytes]", mode: str) -> "List[Any]":
        """One read (None: the decoder's `backlog`) decoded, shaped for a `mode` iteration."""
        decoder = self._decoder
        events, parts = decoder.feed(raw or b"") if raw or decoder.backlog else decoder.eof()
        if parts or events and mode == "events":
            self._delivered = True
        if parts:
            now = self._progress = time.perf_counter()
            self.text_reads += 1
            if self.first_token_time is None:
                self.first_token_time = now - self.started
            if self._text is not None:
                for part in parts:
                    if part.kind != REASONING:
                        self._text.write(part.text)
        elif decoder.progressed:  # an event on its way, even cut in many reads
            self._progress = time.perf_counter()
        if mode == "text":
            return [part.text for part in parts if part.kind != REASONING]
        if mode == "parts":
            return [parts] if parts else []
        return [events] if events or parts else []

    def _wait(self) -> float:
        """How long the next read may wait: `timeout` since the last progress, in `max_time`."""
        now, request = time.perf_counter(), self.request
        left = request.timeout - (now - self._progress)
        if request.max_time is not None and request.max_time - (now - self.started) < left:
            left = request.max_time - (now - self.started)
            if left <= 0:
                raise IdleTimeout(request.max_time, "max_time")
        if left <= 0:
            raise IdleTimeout(request.timeout)
        return left

    def _recover(self, exc: OAIStreamError) -> float:
        """After a failure: disconnected and the seconds to wait to retry, or it raised again."""
        if self._delivered:  # a repeated request would repeat the output
            raise exc
        fallback = without_rejected_field(self.request, exc)
        wait, attempt = 0.0, 0
        if fallback is not None:
            self.request = fallback
        elif self._attempt >= self.request.retries or not retryable(exc):
            raise exc
        else:
            import random
            self._attempt = attempt = self._attempt + 1
            wait = retry_wait(exc, attempt, random.random())
            max_time = self.request.max_time
            if max_time is not None and time.perf_counter() - self.started + wait >= max_time:
                raise exc
        if self.on_retry:
            self.on_retry(exc, wait, attempt)
        if self._state == "closed":
            raise exc
        self._disconnect()
        return wait

    def _iterate(self) -> None:
        if self._iterated:
            raise RuntimeError("a stream can be iterated only once; its text is in .text")
        self._iterated = True

    def __del__(self) -> None:  # dropped without close(): the connection goes with it
        if getattr(self, "_state", "closed") != "closed":
            self._disconnect()


def _mend(text: str) -> str:
    """Surrogate pairs that JSON escapes split across deltas joined; a lone one is U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Stream(_Answer):
    """An open streaming answer (blocking, urllib). Iterate it once for text deltas; `text`
    keeps what arrived. After the end, also `first_token_time` and `elapsed` (seconds).
    A context manager; `close()` drops it."""

    def __init__(self, request: Request, on_retry: "Optional[Callable[..., None]]" = None,
                 keep_text: bool = True) -> None:
        super().__init__(request, on_retry, keep_text)
        self._response = None  # type: Any
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: "Any") -> None:
        self.close()

    def _connect(self) -> None:
        while True:
            self._progress = time.perf_counter()  # the timeout counts from each attempt
            try:
                self._response = _urlopen(self.request, self._wait())
                break
            except OAIStreamError as exc:
                time.sleep(self._recover(exc))
        self._start(self._response.status, _header_dict(self._response.headers.items()))

    def _items(self, mode: str = "text") -> "Iterator[Any]":
        self._iterate()
        try:
            while self._state != "closed":  # close() in the loop body ends it quietly
                try:
                    if self._decoder.ended:
                        self._decoder.check()  # raises what went wrong, if anything
                        return
                    yield from self._step(None if self._decoder.backlog else self._read(), mode)
                except OAIStreamError as exc:
                    time.sleep(self._recover(exc))
                    self._connect()
        finally:
            self.close()

    __iter__ = _items  # the text deltas

    def _read(self) -> bytes:
        # fp.read1(): what is buffered or one recv() brings, every event in it handed on at
        # once (HTTPResponse.read1() would stop at each HTTP chunk: one event, one write each).
        import http.client
        import socket
        self._response.sock.settimeout(self._wait())
        try:
            return _interruptible(self._response.fp.read1, READ_SIZE)
        except socket.timeout:
            self._wait()  # says which limit ran out
            raise IdleTimeout(self.request.timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: closed
            raise _read_error(exc)

    def _disconnect(self) -> None:
        import contextlib
        if self._response is not None:  # shutdown first: a read in _interruptible ends at once
            with contextlib.suppress(OSError, AttributeError):  # closed already; no socket
                self._response.sock.shutdown(2)  # socket.SHUT_RDWR
            self._response.close()


class AsyncStream(_Answer):
    """An open streaming answer over asyncio (CPython 3.7+), as `Stream` but awaited:
    `async for text in s`, `async with`, `await s`, `aclose()`, async `batches()` and
    `raw_events()`. The request goes out on the first of these. Cancelling the task,
    leaving the loop early or an exception in it closes the connection."""

    def __init__(self, request: Request, on_retry: "Optional[Callable[..., None]]" = None) -> None:
        if sys.version_info < (3, 7):
            raise ConfigError("astream() needs Python 3.7 or newer (asyncio's start_tls); "
                              "this is %s: use stream()" % sys.version.split()[0])
        super().__init__(request, on_retry, True)
        self._conn = None  # type: Optional[_Connection]
        self._rest = b""  # body bytes that arrived with the head

    def __await__(self) -> "Any":
        return self.__aenter__().__await__()

    async def __aenter__(self) -> "AsyncStream":  # also `await s` and the first read
        if self._state == "new":
            self._state = "open"
            try:
                await self._connect()
            except BaseException:
                self.close()
                raise
        return self

    async def __aexit__(self, *exc: "Any") -> None:
        await self.aclose()

    def _items(self, mode: str = "text") -> "_AsyncIterator":
        return _AsyncIterator(self, mode)

    __aiter__ = _items  # the text deltas

    async def aclose(self) -> None:
        self.close()

    async def _connect(self) -> None:
        import asyncio
        while True:
            self._progress = time.perf_counter()  # the timeout counts from each attempt
            try:
                self._conn, status, headers, self._rest = await _aopen(self.request, self._wait())
                break
            except OAIStreamError as exc:
                await asyncio.sleep(self._recover(exc))
        self._start(status, headers)

    async def _next(self, mode: str) -> "List[Any]":
        """What the next read brings (see `_step`); StopAsyncIteration at the end."""
        import asyncio
        await self.__aenter__()
        try:
            while self._state != "closed":  # aclose() in the loop body ends it quietly
                try:
                    if self._decoder.ended:
                        self._decoder.check()  # raises what went wrong, if anything
                        break
                    items = self._step(None if self._decoder.backlog else await self._read(), mode)
                    if items:
                        return items
                except OAIStreamError as exc:
                    await asyncio.sleep(self._recover(exc))
                    await self._connect()
            raise StopAsyncIteration
        except BaseException:  # the end, our errors, cancellation
            self.close()
            raise

    async def _read(self) -> bytes:
        data, self._rest = self._rest, b""
        try:
            return data or await self._conn.read(self._wait())  # type: ignore
        except IdleTimeout:
            self._wait()  # says which limit ran out
            raise
        except OSError as exc:
            raise _read_error(exc)

    def _disconnect(self) -> None:
        import contextlib
        if self._conn is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to release
                self._conn.close()
            self._conn = None


class _AsyncIterator:
    """One pass over an AsyncStream; dropping it before the end closes the connection."""

    def __init__(self, stream: AsyncStream, mode: str) -> None:
        stream._iterate()  # before any attribute: __del__ of a refused one has nothing to do
        self.stream, self.mode, self.items = stream, mode, []  # type: AsyncStream, str, List[Any]

    def __aiter__(self) -> "_AsyncIterator":
        return self

    async def __anext__(self) -> "Any":
        if not self.items:
            self.items = (await self.stream._next(self.mode))[::-1]
        return self.items.pop()

    def __del__(self) -> None:
        if getattr(self, "stream", None) is not None and self.stream._state != "closed":
            self.stream.close()


def stream(prompt: "Optional[str]" = None, *,
           on_retry: "Optional[Callable[[OAIStreamError, float, int], None]]" = None,
           **params: "Any") -> Stream:
    """Send the request and return a Stream: iterate it for text deltas.

    prompt or messages ([{"role": ..., "content": ...}]), and the other keyword parameters of
    build_request(): model, system and base_url default to OPENAI_MODEL (else DEFAULT_MODEL),
    none and OPENAI_BASE_URL; api_key to OPENAI_API_KEY (Azure: see the README). api: "chat",
    "completions" or "responses". timeout: longest wait for progress; max_time: limit for the
    whole answer. retries: before any output. usage: ask for token counts. extra_body:
    merged into the JSON body. think_tags: a leading <think> block is reasoning. no_stream:
    ask for one JSON answer. allow_http_key: send the key over plain http:// beyond loopback.
    on_retry(error, wait, attempt) is called before each retry. Raises OAIStreamError
    subclasses (ConfigError for a bad parameter).
    """
    return Stream(build_request(prompt, **params), on_retry)


def astream(prompt: "Optional[str]" = None, *,
            on_retry: "Optional[Callable[[OAIStreamError, float, int], None]]" = None,
            **params: "Any") -> AsyncStream:
    """As stream(), over asyncio: `async for text in astream(...)`, `async with`, or
    `s = await astream(...)`. The request is sent on first use, not by this call."""
    return AsyncStream(build_request(prompt, **params), on_retry)


def list_models(*, base_url: "Optional[str]" = None, api_key: "Optional[str]" = None,
                headers: "Optional[Dict[str, str]]" = None, timeout: float = DEFAULT_TIMEOUT,
                allow_http_key: bool = False, env: "Optional[Dict[str, str]]" = None
                ) -> "List[str]":
    """The model ids the server offers (GET /models), sorted. stream() does not ask it when
    no model is named (the CLI does): a library call makes no request it was not asked for."""
    return _list_models(build_request("", base_url=base_url, api_key=api_key, headers=headers,
                                      timeout=timeout, allow_http_key=allow_http_key, env=env))


def _models_url(request: Request) -> str:
    url, mark, query = request.url.partition("?")  # the path ends with the adapter's
    return url[:-len(ADAPTERS[request.api].path)] + "/models" + mark + query


def _list_models(request: Request) -> "List[str]":
    """GET /models beside the request's endpoint, once (no retries): the ids, sorted."""
    import http.client
    with _urlopen(request._replace(url=_models_url(request), body=None), request.timeout) as r:
        try:
            body = r.read(MAX_BODY_SIZE + 1)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise _read_error(exc)
    obj = _loads(body.decode("utf-8", "replace"), "invalid JSON from /models")
    items = obj.get("data", obj.get("models")) if isinstance(obj, dict) else obj
    if not isinstance(items, list):
        raise ProtocolError("unexpected answer from /models: %s" % _excerpt(body))
    ids = (m.get("id") or m.get("name") if isinstance(m, dict) else m for m in items)
    return sorted(i for i in ids if isinstance(i, str))


# ---------------------------------------------------------------------------
# Command line: the only place that prints and picks exit codes
# ---------------------------------------------------------------------------

USAGE_EXAMPLES = """\
examples:
  oai_stream.py "What is Python?"
  git diff | oai_stream.py "Review this diff"          # stdin is appended to the prompt
  oai_stream.py -s "Answer in French" -t 0.2 -o seed=7 "Hello"
  oai_stream.py --base-url http://127.0.0.1:11434/v1 --models      # what to pass to -m
  oai_stream.py --base-url http://127.0.0.1:11434/v1 -m llama3.2 "Hi"   # Ollama, no key
  oai_stream.py --api responses --reasoning -m gpt-6.1-sol "Prove it"
  while read -r q; do oai_stream.py -n "$q"; done < questions.txt  # -n: leave stdin alone

chat (-i): /exit or %s leaves, Ctrl-C stops an answer; paste several lines, or type \"\"\"
  on a line before and after them, for one message.

environment: OPENAI_API_KEY, OPENAI_API_KEY_FILE, OPENAI_BASE_URL, OPENAI_MODEL,
  OPENAI_ORG_ID, OPENAI_PROJECT_ID, AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY,
  OPENAI_API_VERSION, HTTPS_PROXY, HTTP_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR, NO_COLOR
exit codes: 0 answer complete, 1 API/network/protocol failure or empty answer,
  2 usage error, 130 interrupted"""


class UsageError(Exception):
    pass


def _parser() -> "Any":
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore  # exit codes belong to main()
            raise UsageError(message)

    p = Parser(prog="oai_stream.py", description="Stream an answer from the OpenAI API or any "
               "OpenAI-compatible server.", epilog=USAGE_EXAMPLES % _leave_key(),
               allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("prompt", nargs="*", help="the prompt (words joined by spaces); '-' or none: stdin")
    add("-m", "--model", help="model (default: $OPENAI_MODEL, else the server's only model, "
        "else %s)" % DEFAULT_MODEL)
    add("-s", "--system", help="system prompt")
    add("-t", "--temperature", type=_number, help="sampling temperature")
    add("--max-tokens", type=int, metavar="N", help="limit the answer to N tokens")
    add("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
        help="extra request-body field, repeatable; VALUE is JSON when it parses, else a string")
    add("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
        help="extra HTTP header (Latin-1), repeatable")
    add("--api", choices=sorted(ADAPTERS), default="chat", help="which OpenAI API (default chat)")
    add("--base-url", help="API base URL (default $OPENAI_BASE_URL, else %s)" % DEFAULT_BASE_URL)
    add("--api-key-file", metavar="PATH", help="read the key from a file")
    add("--allow-http-key", action="store_true", help="send the key over plain http:// to a "
        "host other than loopback (a trusted network)")
    add("--timeout", type=_number, default=DEFAULT_TIMEOUT, metavar="SECONDS",
        help="connect timeout and longest wait for the answer to progress (default %g)"
        % DEFAULT_TIMEOUT)
    add("--max-time", type=_number, metavar="SECONDS", help="limit for the whole answer")
    add("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
        help="retries before any output (default %d; 0 disables)" % DEFAULT_RETRIES)
    add("--reasoning", action="store_true", help="show the model's reasoning on stderr")
    add("--no-think-tags", action="store_true",
        help="print a leading <think> block as answer text instead of treating it as reasoning")
    add("--usage", action="store_true", help="print token usage and speed on stderr")
    add("--json", action="store_true", help="print each event as a JSON line, no text")
    add("--no-stream", action="store_true", help="ask for the whole answer as one JSON response")
    add("--raw", action="store_true",
        help="write control characters to the terminal as sent (by default: shown as \\x1b etc.)")
    add("-n", "--no-stdin", action="store_true", help="never read stdin (for shell loops)")
    add("--models", action="store_true", help="list the server's models, one id per line")
    add("-i", "--interactive", action="store_true",
        help="chat: a conversation in the terminal (also when no prompt and stdin is a tty)")
    add("-v", "--verbose", action="store_true",
        help="print the request (long strings shortened, key redacted) and status on stderr")
    add("--version", action="version", version="oai_stream %s" % __version__)
    return p


def _leave_key() -> str:
    return "Ctrl-Z then Enter" if _PLATFORM == "win32" else "Ctrl-D"


# What --models cannot honour: it sends no prompt and prints only ids.
_NOT_FOR_MODELS = ("prompt", "model", "system", "temperature", "max_tokens", "option", "api",
                   "max_time", "retries", "reasoning", "no_think_tags", "usage", "json",
                   "no_stream", "interactive")


def _number(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


_number.__name__ = "number"  # argparse says "invalid number value: 'hot'"


def _parse_options(pairs: "List[str]") -> "Dict[str, Any]":
    body = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UsageError("-o expects KEY=VALUE, got %s" % _excerpt(pair, 60))
        try:
            body[key] = json.loads(value, parse_constant=_no_constant)
        except RecursionError:
            raise UsageError("-o %s: the value is nested too deeply" % _one_line(key, 40))
        except ValueError:
            body[key] = value
    return body


def _no_constant(name: str) -> None:
    raise UsageError("-o values cannot be %s: JSON has no such number" % name)


def _parse_headers(lines: "List[str]") -> "Dict[str, str]":
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise UsageError("-H expects 'Name: value'")  # the line may be a key: not echoed
        headers[name.strip()] = value.strip()
    return headers


_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"
_VISIBLE = {c: "\\x%02x" % c for c in list(range(32)) + list(range(127, 160)) if c not in (9, 10)}


def _neutralise(text: str) -> str:
    """Terminal controls (C0 but LF and tab, DEL, C1) made visible, each on its own (so a
    sequence split across reads too): model text must not forge lines or write the clipboard."""
    if re.search(_CONTROL, text) is None:
        return text
    return text.replace("\r\n", "\n").translate(_VISIBLE)


def _write(stream: "Any", text: str) -> None:
    """Text to a standard stream as UTF-8 whatever the locale or console, flushed at once."""
    out = getattr(stream, "buffer", None)
    if out is None:  # a StringIO, or a stream a host program set
        stream.write(text)
        stream.flush()
        return
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = _mend(text).encode("utf-8")
    stream.flush()  # anything left in the text layer goes first
    out.write(data)
    out.flush()


def _vt_processing(stream: "Any") -> bool:
    """Whether a Windows console acts on escapes: its VT processing turned on."""
    import ctypes
    import msvcrt
    kernel32 = ctypes.windll.kernel32  # type: ignore
    handle, mode = msvcrt.get_osfhandle(stream.fileno()), ctypes.c_uint32()  # type: ignore
    return bool(kernel32.GetConsoleMode(handle, ctypes.byref(mode)) and
                kernel32.SetConsoleMode(handle, mode.value | 4))  # VT processing on


class Output:
    """Answer text to stdout; notices to stderr as `oai_stream: ` lines, secrets scrubbed. On a
    terminal, a status line while nothing shows ("waiting… 3 s"), erased by any write."""

    def __init__(self, out: "Any", err: "Any", raw: bool = False) -> None:
        import threading
        self.out, self.err, self.raw = out, err, raw
        self.out_tty = _quiet(lambda: out.isatty()) and not raw
        self.err_tty = _quiet(lambda: err.isatty())
        self.secrets = [k.strip() for k in (os.environ.get("OPENAI_API_KEY"),
                                            os.environ.get("AZURE_OPENAI_API_KEY")) if k]
        self.last = ""  # last character written to stdout
        self.high = ""  # a UTF-16 high surrogate held for its other half
        self.in_reasoning = False
        escapes = self.err_tty and (_PLATFORM != "win32" or _quiet(lambda: _vt_processing(err)))
        self.color = escapes and not os.environ.get("NO_COLOR")
        self.erase = "\r\x1b[K" if escapes else "\r%s\r" % (" " * 40)  # conhost: blanks
        self.label, self.since, self.shown = "", 0.0, False  # the status line: "" is none
        self.lock, self.closed = threading.Lock(), threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)  # from the first show()

    def write(self, text: str) -> None:
        if not text:
            return
        if self.high or "\ud800" <= text[-1] <= "\udbff":  # rare: a split surrogate pair
            text, self.high = self.high + text, ""
            if "\ud800" <= text[-1] <= "\udbff":  # its other half comes with the next write
                text, self.high = text[:-1], text[-1]
            if not text:
                return
        if self.out_tty:
            text = _neutralise(text)
        self.hush()
        self.last = text[-1:] or self.last  # first: a Ctrl-C right after must still see it
        _write(self.out, text)

    def reasoning(self, text: str, start: bool) -> None:
        if start != self.in_reasoning:
            self.in_reasoning = start
            dim, undim = ("\x1b[2m", "\x1b[0m") if self.color else ("", "")
            self.stderr(dim + "[reasoning]\n" if start else "\n[/reasoning]%s\n" % undim)
        if text:  # model text: no escapes on stderr either, terminal or not (--raw: as sent)
            self.stderr(self._scrub(text if self.raw else _neutralise(text)))

    def protect(self, request: "Request") -> None:
        """The request's secrets scrubbed from every message; a key withheld said (once a run)."""
        if request.key_withheld:
            self.note("the key is not sent in cleartext to %s (http://, not this machine); "
                      "--allow-http-key sends it" % _without_password(request.url))
        for name, value in request.headers.items():
            if name.lower() in SECRET_HEADERS and value.split():
                self.secrets += [value, value.split()[-1]]
        if request.api_key:
            self.secrets.append(request.api_key)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if len(secret) >= 4 and secret in text:
                text = text.replace(secret, _redact_key(secret))
        return text

    def note(self, message: str) -> None:
        # after end_text(): a notice never runs into the text, even in one file (2>&1)
        self.stderr("oai_stream: %s\n" % _one_line(self._scrub(message), 4000))

    def stderr(self, text: str) -> None:
        self.hush()
        if self.err is not None:
            _write(self.err, text)

    def end_text(self) -> None:
        """Exactly one newline at the end if the text does not already end with one."""
        self.hush()
        self.reasoning("", False)
        if self.high:
            self.write("\ufffd")
        if self.last and self.last != "\n":
            self.write("\n")

    def show(self, label: str) -> None:
        """The status line, its seconds counted from now unless it already says this."""
        with self.lock:
            if label != self.label:
                self.label, self.since = label, time.monotonic()
            if self.err_tty and self.ticker.ident is None:
                self.ticker.start()

    def hush(self) -> None:
        with self.lock:
            self.label = ""
            if self.shown:
                _write(self.err, self.erase)
                self.shown = False

    def close(self) -> None:
        self.hush()
        self.closed.set()

    def _tick(self) -> None:
        while not self.closed.wait(1.0):
            with self.lock:
                if self.label:
                    elapsed = time.monotonic() - self.since
                    _write(self.err, "%s%s\u2026 %d s" % (self.erase, self.label, elapsed))
                    self.shown = True


def main(argv: "Optional[List[str]]" = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    out = Output(sys.stdout, sys.stderr, "--raw" in argv)
    try:
        if sys.stdout is None:
            raise OSError("stdout is closed")
        # An argument that was not valid UTF-8 arrives with lone surrogates: U+FFFD instead.
        return _run([a.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                     for a in argv], out)
    except UsageError as exc:
        out.note("%s (see --help)" % exc)
        return EXIT_USAGE
    except (OAIStreamError, KeyboardInterrupt) as exc:
        _quiet(out.end_text)  # the text so far stays, ended by a newline
        if isinstance(exc, KeyboardInterrupt):
            _quiet(lambda: out.note("interrupted"))
            return EXIT_INTERRUPTED
        message = _explain(exc)
        _quiet(lambda: out.note(message))
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE
    except OSError as exc:  # stdout gone: its reader left (| head), a full disk, closed
        _quiet(_silence_stdout)
        # Windows says EINVAL, not EPIPE, when the reader of a pipe has left.
        if isinstance(exc, BrokenPipeError) or _PLATFORM == "win32" and exc.errno == 22:
            return EXIT_OK
        message = "cannot write the answer to stdout: %s" % (exc.strerror or exc)
        _quiet(lambda: out.note(message))
        return EXIT_FAILURE
    finally:
        out.close()


def _run(argv: "List[str]", out: Output) -> int:
    """main() without the error handling: parse, then list models, chat or answer."""
    if any(a == "--api-key" or a.startswith("--api-key=") for a in argv):
        raise UsageError("the key is never taken as a flag (it would show in ps): set "
                         "OPENAI_API_KEY or use --api-key-file")
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    api_key = _key_from_file(args.api_key_file) if args.api_key_file else None
    settings = dict(model=args.model, system=args.system, api=args.api,
                    base_url=args.base_url, api_key=api_key, temperature=args.temperature,
                    max_tokens=args.max_tokens, headers=_parse_headers(args.header),
                    timeout=args.timeout, max_time=args.max_time, retries=args.retries,
                    usage=args.usage, extra_body=_parse_options(args.option),
                    think_tags=not args.no_think_tags, no_stream=args.no_stream,
                    allow_http_key=args.allow_http_key)
    stdin_tty = _quiet(lambda: sys.stdin.isatty())
    for flag in ("json", "models", "no_stdin"):
        if args.interactive and getattr(args, flag):
            raise UsageError("--%s does not work in chat mode" % flag.replace("_", "-"))
    if args.models:
        for dest in _NOT_FOR_MODELS:
            if getattr(args, dest) not in (None, False, [], parser.get_default(dest)):
                raise UsageError("--models takes no %s" % (
                    "prompt" if dest == "prompt" else "--" + dest.replace("_", "-")))
    chat = args.interactive or (not args.prompt and stdin_tty and not args.no_stdin)
    prompt = "" if chat or args.models else _read_prompt(args.prompt, not args.no_stdin and (
        not args.prompt or "-" in args.prompt or not stdin_tty))
    request = build_request(prompt, **settings)
    out.protect(request)
    if args.models:
        if args.verbose:
            _describe(request._replace(url=_models_url(request), body=None), out)
        ids = _list_models(request)
        out.write("".join(_one_line(i, 200) + "\n" for i in ids))  # an id is one line
        if not ids:
            out.note("the server lists no models")
        return EXIT_OK
    request = _model_request(request, prompt, settings, args, out)
    if chat:
        return _chat(args, settings, out, " ".join(args.prompt), request.body.get("model"))
    _answer(request, args, out)
    return EXIT_OK


def _model_request(request: Request, prompt: str, settings: "Dict[str, Any]", args: "Any",
                   out: Output) -> Request:
    """No model named, a server not OpenAI's: GET /models; one, it; several, the user picks."""
    host = _origin(request.url)[1]
    if (settings["model"] or os.environ.get("OPENAI_MODEL") or "model" in settings["extra_body"]
            or host == "api.openai.com" or host.endswith(".openai.azure.com")):
        return request
    if args.verbose:
        _describe(request._replace(url=_models_url(request), body=None), out)
    try:
        ids = _list_models(request)
    except OAIStreamError as exc:
        if args.verbose:
            out.note("no model list (%s); asking for %s" % (exc, DEFAULT_MODEL))
        return request
    if len(ids) > 1:
        raise UsageError("the server offers %d models (%s%s): pick one with -m or OPENAI_MODEL"
                         % (len(ids), ", ".join(_one_line(i, 60) for i in ids[:5]),
                            ", ..." if len(ids) > 5 else ""))
    if ids:
        settings["model"] = ids[0]
        request = build_request(prompt, **settings)
    return request


def _silence_stdout() -> None:
    """Nothing more reaches stdout, not even the flush at interpreter exit."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def _cli_words(exc: OAIStreamError) -> str:
    """Our messages' parameter (first, or in parentheses) as its flag; a server's words stay."""
    message, param = str(exc), exc.param
    if param is None or isinstance(exc, APIError):
        return message
    flag = "--api-key-file" if param == "api_key" else "--" + param.replace("_", "-")
    if message.startswith(param + " "):
        return flag + message[len(param):]
    return message.replace("(%s)" % param, "(%s)" % flag)


def _explain(exc: OAIStreamError) -> str:
    """An error in the command line's words, with the likely fix where there is one."""
    message = _cli_words(exc)
    if isinstance(exc, EmptyAnswer) and exc.looks_like:
        return "%s; try --api %s" % (message, exc.looks_like)
    if not isinstance(exc, APIError):
        return message
    if exc.status == 404:
        if "model" in ("%s %s" % (exc.code or "", exc.message)).lower():
            return "%s; list the server's models with --models" % message
        return ("%s; check --base-url (most servers want it to end in /v1) and that the "
                "server offers this API (--api)" % message)
    if exc.param == "stream" or exc.status == 400 and "stream" in exc.message:
        return "%s; --no-stream asks for the whole answer at once" % message
    return message


def _quiet(action: "Any") -> "Any":
    """action()'s result, False if it fails: a stream that cannot say is not a terminal."""
    try:
        return action()
    except Exception:  # already failing: a second failure must not hide the first
        return False


def _read_prompt(words: "List[str]", read_stdin: bool) -> str:
    """Words, then a blank line and stdin if read, without the BOM and CRs PowerShell pipes."""
    prompt = " ".join(w for w in words if w != "-")
    if read_stdin:
        data = getattr(sys.stdin, "buffer", sys.stdin).read() if sys.stdin else b""
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        data = data.lstrip("\ufeff").replace("\r\n", "\n").rstrip("\n")
        prompt = "\n\n".join(part for part in (prompt, data) if part)
    if not prompt.strip():
        raise UsageError("no prompt: give one as arguments or on stdin")
    return prompt


def _answer(request: Request, args: "Any", out: Output,
            keep: "Optional[List[Stream]]" = None) -> None:
    """Send, print, report; `keep` gets the Stream at once, so chat keeps an interrupted answer."""
    if args.verbose:
        _describe(request, out)
    out.show("waiting")

    def on_retry(exc: OAIStreamError, wait: float, attempt: int) -> None:
        if attempt == 0 and args.verbose:
            out.note("%s; sending again without the field the server rejected" % exc)
        elif attempt and (args.verbose or wait > 1.0 or isinstance(exc, IdleTimeout)):
            out.note("%s; retrying in %.1f s (retry %d of %d)" % (
                _cli_words(exc), wait, attempt, request.retries))
    with Stream(request, on_retry, keep is not None) as answer:  # closed on Ctrl-C too
        if keep is not None:
            keep.append(answer)
        if args.verbose:
            out.note("HTTP %s %s" % (answer.status, answer.content_type or "(no content type)"))
        if args.json:
            _print_json(answer, out)
        else:
            _print_text(answer, args.reasoning, out)
    out.end_text()  # after an error, main() ends the text instead
    for notice in answer.notices():
        out.note(notice)
    for i, source in enumerate(answer.citations, 1):
        out.note("source [%d] %s%s" % (i, source["url"], " (%s)" % source["title"]
                                       if source["title"] else ""))
    if answer.empty and not answer.cut and not answer.tools:
        out.note("the answer is empty (finish_reason: %s)" % answer.finish_reason)
    if args.verbose:  # a reason unknown to oai_stream ends a whole answer: worth a look
        out.note("finish_reason: %s" % answer.finish_reason)
    if args.usage:
        out.note(_usage_line(answer))


def _print_text(answer: Stream, show_reasoning: bool, out: Output) -> None:
    """The answer to stdout, one write and one flush per network read."""
    for batch in answer.batches():
        text = []  # type: List[str]
        for kind, piece in batch:
            if kind != REASONING:
                if out.in_reasoning:
                    out.write("".join(text))
                    text = []
                    out.reasoning("", False)
                text.append(piece)
            elif show_reasoning:
                out.reasoning(piece, True)
            elif not out.last and not text:
                out.show("thinking")
        out.write("".join(text))


def _print_json(answer: Stream, out: Output) -> None:
    """One JSON line per event, {"event": name, "data": JSON or the raw string}; no [DONE]."""
    decode = json.JSONDecoder(parse_constant=_number).decode  # NaN (refused): the raw string stays
    for events in answer.raw_events():
        lines = []
        for event in events:
            data = event.data
            if not data or _is_done(data):
                continue
            try:
                data = decode(data)
            except (ValueError, RecursionError):
                pass
            lines.append(_dumps({"event": None if event.event == "json" else event.event,
                                 "data": data}) + "\n")
        out.write("".join(lines))


def _usage_line(answer: Stream) -> str:
    prompt, completion, total, reasoning, cached = answer.adapter.usage_counts()
    line = "usage: not reported by the server"
    if prompt is not None or completion is not None:
        line = "usage: %s prompt%s + %s completion%s = %s tokens" % (
            prompt, "" if cached is None else " (%d cached)" % cached, completion,
            "" if reasoning is None else " (%d reasoning)" % reasoning,
            total if total is not None else (prompt or 0) + (completion or 0))
    if answer.first_token_time is not None:
        line += "; first token %.2f s" % answer.first_token_time
        span = (answer.elapsed or 0) - answer.first_token_time
        if completion and span > 0 and answer.text_reads > 1:  # one read: no speed measured
            line += ", %.1f tokens/s" % (completion / span)
    return line


def _describe(request: Request, out: Output) -> None:
    """-v: what is sent, the key redacted and long strings shortened."""
    out.note("%s %s" % ("GET" if request.body is None else "POST",
                        _without_password(request.url)))
    proxy = _proxy_for(request.url)
    if proxy:
        out.note("  via proxy %s" % _without_password(proxy))
    for name, value in request.send_headers().items():
        if name.lower() in SECRET_HEADERS:
            scheme, space, secret = value.rpartition(" ")
            value = scheme + space + _redact_key(secret)
        out.note("  %s: %s" % (name, value))
    if request.body is not None:
        out.note("  body: %s" % _dumps(_shorten(request.body)))


def _shorten(obj: "Any", limit: int = 60) -> "Any":
    """Long strings as their start, their end and their length."""
    if isinstance(obj, str) and len(obj) > limit:
        return "%s…%s (%d chars)" % (obj[:limit // 2], obj[-limit // 4:], len(obj))
    if isinstance(obj, dict):
        return {k: _shorten(v, limit) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shorten(v, limit) for v in obj]
    return obj


def _chat(args: "Any", settings: "Dict[str, Any]", out: Output, first: str, model: str) -> int:
    """A conversation: history kept, Ctrl-C stops the answer, /exit or Ctrl-D leaves."""
    tty = _quiet(lambda: sys.stdin.isatty() and sys.stdout.isatty())
    if tty:  # line editing and history where the platform has them
        _quiet(lambda: __import__("readline"))
    history = []  # type: List[Dict[str, Any]]
    settings = dict(settings, model=model)  # the model the greeting names
    out.note("chat with %s; /exit or %s to leave, Ctrl-C stops an answer; paste several "
             "lines, or put \"\"\" before and after them, for one message" % (model, _leave_key()))
    while True:
        try:
            line = first or _chat_input(tty)
            first = ""
        except EOFError:
            if tty:
                out.stderr("\n")
            return EXIT_OK
        except KeyboardInterrupt:
            out.stderr("\n")
            continue
        if not line.strip():
            continue
        if line.strip() in ("/exit", "/quit"):
            return EXIT_OK
        user = {"role": "user", "content": line.strip("\n")}
        request = build_request(messages=history + [user], **settings)
        answers = []  # type: List[Stream]
        try:
            _answer(request, args, out, answers)
        except (KeyboardInterrupt, OAIStreamError) as exc:
            out.end_text()
            out.note(_explain(exc) if isinstance(exc, OAIStreamError) else "answer stopped")
        if answers and answers[0].text:  # a turn without an answer is not sent again
            history += [user, {"role": "assistant", "content": answers[0].text}]


def _chat_input(tty: bool) -> str:
    """One message: a line, the lines of a paste, or the lines between two \"\"\" lines.
    Off a terminal there is no prompt: nobody reads it, and stderr stays notices only."""
    lines = []  # type: List[str]

    def read(more: bool) -> str:
        if tty:
            return input("... " if more else ">>> ")
        raw = sys.stdin.buffer.readline()
        if not raw:
            raise EOFError
        return raw.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    line = read(False)
    if line.strip() == '"""':
        try:
            line = read(True)
            while line.strip() != '"""':
                lines.append(line)
                line = read(True)
        except EOFError:  # the input ended inside the block: what came is the message
            if not lines:
                raise
        return "\n".join(lines)
    lines.append(line)
    while tty and _quiet(lambda: _pending(sys.stdin)):  # the rest of a paste is waiting
        lines.append(read(True))
    return "\n".join(lines)


def _pending(stdin: "Any") -> bool:
    """Whether more input already waits (a paste); Windows' select takes no console: kbhit."""
    if _PLATFORM != "win32":
        import select
        return bool(select.select([stdin], [], [], 0.05)[0])
    import msvcrt
    time.sleep(0.05)  # the rest of a paste arrives within it
    return bool(msvcrt.kbhit())  # type: ignore


if __name__ == "__main__":
    sys.exit(main())
