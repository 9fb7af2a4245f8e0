#!/usr/bin/env python3
"""oai_stream: stream answers from the OpenAI API and every OpenAI-compatible server.

One file, standard library only, CPython 3.6 to 3.13. It POSTs a request with urllib,
decodes the Server-Sent Events stream with its own sans-I/O decoder and writes each
token to stdout the moment its bytes reach the socket.

    $ export OPENAI_API_KEY=sk-...
    $ python oai_stream.py "What is Python?"
    $ git diff | python oai_stream.py -s "You are a terse reviewer" "Review this"
    $ python oai_stream.py --base-url http://127.0.0.1:11434/v1 -m llama3.2 "Hi"

    >>> import oai_stream
    >>> for text in oai_stream.stream("What is Python?"):
    ...     print(text, end="", flush=True)

Specs followed:
- WHATWG HTML, "Server-sent events", section 9.2.6 (event stream interpretation):
  https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
- OpenAI API reference, streaming for Chat Completions, Completions and Responses:
  https://platform.openai.com/docs/api-reference/chat-streaming
  https://platform.openai.com/docs/api-reference/responses-streaming

Deliberately left out: reconnecting with Last-Event-ID (OpenAI streams cannot be
resumed), tools/function calls, images and audio.

MIT licence.
"""

import json
import os
import sys
import time
from collections import namedtuple
from itertools import chain

TYPE_CHECKING = False
if TYPE_CHECKING:  # `import typing` is ~3 ms of every start: annotations that need it are quoted
    from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

__version__ = "1.0.0"
__all__ = [
    "Event", "SSEDecoder", "iter_sse", "Part", "Stream", "stream", "main",
    "OAIStreamError", "APIError", "NetworkError", "IdleTimeout", "ProtocolError",
    "EventTooLarge", "IncompleteStream", "RedirectError", "ConfigError",
    "DEFAULT_MODEL", "DEFAULT_BASE_URL",
]

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # as the official SDK
# OpenAI's deprecations page (Nov 2026) shuts gpt-5-mini down on 2026-12-11 and names
# gpt-6.1-terra as its replacement; gpt-4o and gpt-4.1 follow on 2027-01-14.
DEFAULT_MODEL = "gpt-6.1-terra"
# Bounds connecting and each wait for bytes, not the whole answer. Reasoning models can
# think for minutes before the first token; 600 s is the official SDK's default too.
DEFAULT_TIMEOUT = 600.0
DEFAULT_RETRIES = 2  # as the official SDK
MAX_RETRY_WAIT = 60.0  # a Retry-After beyond this is capped: nobody watches a frozen CLI longer
MAX_EVENT_SIZE = 16 * 1024 * 1024  # one SSE line or event; real events are < 100 KiB
MAX_BODY_SIZE = 16 * 1024 * 1024  # a whole JSON answer where a stream was asked for
MAX_ERROR_BODY = 1024 * 1024  # an error body: the message is in the first few hundred bytes
MAX_REDIRECTS = 5
READ_SIZE = 65536  # upper bound for one read1(): returns what one recv delivered

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SECRET_HEADERS = ("authorization", "api-key", "proxy-authorization")  # redacted, never redirected

TEXT, REASONING, REFUSAL = "text", "reasoning", "refusal"  # kinds of Part

# ---------------------------------------------------------------------------
# Errors: the library raises these and never prints or exits
# ---------------------------------------------------------------------------


class OAIStreamError(Exception):
    """Root of every error oai_stream raises."""


class ConfigError(OAIStreamError):
    """Missing key, bad URL or option: fix the call, not the network."""


class NetworkError(OAIStreamError):
    """Connection, TLS or transfer failure."""
    retryable = True  # before any output; a TLS or proxy-auth failure will not heal by waiting


class IdleTimeout(NetworkError):
    """No bytes arrived for `timeout` seconds."""


class ProtocolError(OAIStreamError):
    """The server answered with something that is not a valid stream."""


class EventTooLarge(ProtocolError):
    """An SSE line or event exceeded the decoder's size limit."""


class IncompleteStream(ProtocolError):
    """The stream ended before the answer was complete."""


class RedirectError(OAIStreamError):
    """The server redirected somewhere oai_stream will not follow."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


class APIError(OAIStreamError):
    """An error reported by the server: an HTTP error status or an error event in the stream.

    `status` is the HTTP status (None for an error inside a 200 stream); `code`, `type` and
    `message` come from the server's error object when it sent one.
    """

    def __init__(self, message: str, status: "Optional[int]" = None, code: "Optional[str]" = None,
                 type: "Optional[str]" = None, retry_after: "Optional[float]" = None) -> None:
        self.status, self.code, self.type, self.message = status, code, type, message
        self.retry_after = retry_after  # seconds, from Retry-After or retry-after-ms
        self.should_retry = None  # type: Optional[bool]  # the server's x-should-retry
        head = "HTTP %d" % status if status else "error in stream"
        extra = ", ".join(x for x in (code, type) if x)
        super().__init__("%s%s: %s" % (head, " (%s)" % extra if extra else "", message))


# ---------------------------------------------------------------------------
# SSE decoding (pure: no I/O). WHATWG HTML 9.2.6.
# ---------------------------------------------------------------------------


class Event(namedtuple("Event", "event data id retry")):
    """One dispatched server-sent event, immutable.

    event: str, the event type ("message" when the stream named none); data: str;
    id: str or None, the last event ID at dispatch (it persists across events);
    retry: int or None, the reconnection time in ms last set by the stream.
    """
    __slots__ = ()


_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Push-style event-stream decoder: feed(bytes) -> [Event]; close() at end of stream.

    Lines are split on bytes (LF, CR, CRLF) with C-speed methods and each value is decoded
    as UTF-8 with replacement, so a multibyte character cut between chunks decodes whole.
    The output is the same however the input is split. A line or event over `max_size`
    bytes raises EventTooLarge, so memory stays bounded.
    """

    def __init__(self, max_size: int = MAX_EVENT_SIZE) -> None:
        self.max_size = max_size
        self.last_id = None  # type: Optional[str]
        self.retry = None  # type: Optional[int]
        self._tail = []  # type: List[bytes]  # pieces of the unfinished last line
        self._tail_len = 0
        self._data = []  # type: List[bytes]  # data lines of the event being built
        self._data_len = 0
        self._type = b""
        self._head = b""  # bytes held at stream start until the BOM question is settled
        self._started = False
        self._cr = False  # the previous chunk ended in CR: a leading LF ends no line
        self._error = None  # type: Optional[EventTooLarge]
        self._slow = True  # any of: not started, CR pending, error held back

    def feed(self, chunk: bytes) -> "List[Event]":
        if type(chunk) is not bytes:  # bytearray, memoryview: the fast paths need bytes
            chunk = bytes(chunk)
        if self._slow:
            chunk = self._prepare(chunk)
        if 13 in chunk:  # CR; an int test is a plain memchr, much faster than b"\r" in chunk
            # Normalise CRLF and lone CR to LF; a CR at the end already ends a line, and
            # the LF that may follow in the next chunk belongs to the same line ending.
            if chunk[-1:] == b"\r":
                self._cr = self._slow = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        tail = self._tail
        if 10 not in chunk:  # no LF: the middle of a line, kept for later
            if chunk:
                tail.append(chunk)
            self._tail_len += len(chunk)
            if self._tail_len > self.max_size:
                raise EventTooLarge("event stream line exceeds the %d-byte limit" % self.max_size)
            return []
        if tail:
            tail.append(chunk)
            chunk = b"".join(tail)
            del tail[:]
        lines = chunk.split(b"\n")
        last = lines.pop()
        self._tail_len = len(last)
        if last:
            tail.append(last)
        limit = self.max_size
        if len(chunk) > limit:  # only then can a line be over the limit
            long = [i for i, line in enumerate(lines) if len(line) > limit]
            if long or self._tail_len > limit:
                self._error = EventTooLarge("event stream line exceeds the %d-byte limit" % limit)
                self._slow = True
                del lines[long[0] if long else len(lines):]

        # WHATWG 9.2.6 "interpret an event stream", one line at a time
        events = []  # type: List[Event]
        data, size = self._data, self._data_len
        for line in lines:
            if line[:5] == b"data:":  # the hot path: OpenAI streams are all data lines
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value)
                size += len(value) + 1
                if size > limit:
                    self._error = EventTooLarge("event exceeds the %d-byte limit" % limit)
                    self._slow = True
                    break
            elif not line:  # blank line: dispatch
                if data:
                    value = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(_new_event(Event, (
                        self._type.decode("utf-8", "replace") if self._type else "message",
                        value.decode("utf-8", "replace"), self.last_id, self.retry)))
                    data = self._data = []
                    size = 0
                self._type = b""  # an empty data buffer resets the type too
            elif line[:1] != b":":  # not a comment
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"event":
                    self._type = value
                elif name == b"data":  # "data" with no colon: an empty data line
                    data.append(value)
                    size += len(value) + 1
                    if size > limit:
                        self._error = EventTooLarge("event exceeds the %d-byte limit" % limit)
                        self._slow = True
                        break
                elif name == b"id":
                    if 0 not in value:  # an id with NUL is ignored
                        self.last_id = value.decode("utf-8", "replace")
                elif name == b"retry":
                    if value.isdigit():  # bytes.isdigit() is ASCII digits only
                        self.retry = int(value)
                # any other field is ignored
        self._data_len = size
        if self._error and not events:  # events before the fault are delivered first
            raise self._error
        return events

    def close(self) -> "List[Event]":
        """End of stream. An event not terminated by a blank line is discarded (WHATWG).
        Raises a size error that was held back to deliver the events before it."""
        self._tail, self._tail_len, self._data, self._data_len = [], 0, [], 0
        self._type = b""
        if self._error:
            raise self._error
        return []

    def _prepare(self, chunk: bytes) -> bytes:
        """The rare cases: an error held back, a BOM at stream start, a CR pending."""
        if self._error:
            raise self._error
        if not self._started:
            head = self._head + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._head = head  # could still be a BOM: wait for more
                return b""
            self._started, self._head = True, b""
            chunk = head[3:] if head.startswith(_BOM) else head
        if self._cr and chunk:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._slow = self._cr or not self._started
        return chunk


_new_event = tuple.__new__  # skips namedtuple's Python-level __new__ on the hot path


def iter_sse(chunks: "Iterable[bytes]", max_size: int = MAX_EVENT_SIZE) -> "Iterator[Event]":
    """Decode an iterable of byte chunks into events, each yielded as soon as it is complete."""
    decoder = SSEDecoder(max_size)
    for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    decoder.close()


# ---------------------------------------------------------------------------
# OpenAI wire formats: pure, dicts in, parts out. One adapter per API.
# ---------------------------------------------------------------------------


class Part(namedtuple("Part", "kind text")):
    """A piece of the answer: kind is "text", "reasoning" or "refusal"; text is a str."""
    __slots__ = ()


_new_part = tuple.__new__  # as _new_event


def _error_from(obj: "Any", status: "Optional[int]" = None) -> APIError:
    """Build an APIError from an OpenAI-style error object (or anything else)."""
    err = obj.get("error", obj) if isinstance(obj, dict) else obj
    if isinstance(err, dict):
        message = err.get("message") or err.get("detail") or json.dumps(err)
        code, etype = err.get("code"), err.get("type")
        return APIError(_one_line(message), status,
                        _one_line(code, 100) if code is not None else None,
                        _one_line(etype, 100) if etype else None)
    return APIError(_one_line(err), status)


class Adapter:
    """Turns one API's stream events into Parts and notes how the stream ended."""
    path = ""

    def __init__(self) -> None:
        self.done = False  # a terminal event arrived
        self.finish_reason = None  # type: Optional[str]
        self.usage = None  # type: Optional[Dict[str, Any]]
        self.model = None  # type: Optional[str]

    def body(self, model: str, messages: "List[Dict[str, str]]", max_tokens: "Optional[int]",
             temperature: "Optional[float]", usage: bool, openai_host: bool) -> "Dict[str, Any]":
        raise NotImplementedError

    def feed(self, event: Event) -> "List[Part]":
        raise NotImplementedError

    def from_json(self, obj: "Dict[str, Any]") -> "List[Part]":
        """A whole (non-streamed) answer: some servers ignore `stream: true`."""
        raise NotImplementedError

    def complete(self) -> bool:
        """Whether the stream so far holds a whole answer (checked at end of stream)."""
        return self.done


class ChatAdapter(Adapter):
    """Chat Completions: `choices[0].delta.content`, ending with `data: [DONE]`."""
    path = "/chat/completions"

    def body(self, model, messages, max_tokens, temperature, usage, openai_host):
        # OpenAI's reasoning models reject max_tokens; compatible servers may not know
        # max_completion_tokens and would silently ignore it.
        body = _sampling({"model": model, "messages": messages, "stream": True},
                         "max_completion_tokens" if openai_host else "max_tokens",
                         max_tokens, temperature)
        if usage:  # only when asked: some servers reject unknown fields
            body["stream_options"] = {"include_usage": True}
        return body

    def feed(self, event):
        data = event.data
        if data == "[DONE]" or data[:1] != "{" and data.strip() == "[DONE]":
            self.done = True
            return []
        obj = _parse_json(data)
        if obj.get("error") or event.event == "error":
            raise _error_from(obj)
        if obj.get("usage"):
            self.usage = obj["usage"]
        if self.model is None:
            self.model = obj.get("model")
        choices = obj.get("choices")
        if not choices or not isinstance(choices, list):
            return []  # usage chunk, Azure's prompt_filter_results, keep-alive objects
        choice = choices[0]
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            return []
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
            groq = obj.get("x_groq")  # Groq's usage, before it adopted include_usage
            if isinstance(groq, dict) and groq.get("usage") and not self.usage:
                self.usage = groq["usage"]
        return self._parts(choice, "delta")

    def complete(self):
        # A finish_reason makes the answer whole even if the server closed before [DONE].
        return self.done or self.finish_reason is not None

    def from_json(self, obj):
        if obj.get("error"):
            raise _error_from(obj)
        self.done, self.usage, self.model = True, obj.get("usage"), obj.get("model")
        choices = obj.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        if not isinstance(choice, dict):
            return []
        self.finish_reason = choice.get("finish_reason")
        return self._parts(choice, "message")

    def _parts(self, choice: "Dict[str, Any]", field: str) -> "List[Part]":
        delta = choice.get(field)
        if type(delta) is not dict:
            return []
        content = delta.get("content")
        if len(delta) == 1 and type(content) is str:  # the hot path: {"content": "..."}
            return [_new_part(Part, (TEXT, content))] if content else []
        parts = []
        for key in ("reasoning_content", "reasoning"):  # DeepSeek/old vLLM, newer vLLM
            text = _text_of(delta.get(key))
            if text:
                parts.append(Part(REASONING, text))
                break
        if type(content) is list:  # Mistral's reasoning: {"type": "thinking", "thinking": [...]}
            text = "".join(_text_of(p.get("thinking")) for p in content
                           if isinstance(p, dict) and p.get("type") == "thinking")
            if text:
                parts.append(Part(REASONING, text))
        text = _text_of(content)
        if text:
            parts.append(Part(TEXT, text))
        text = _text_of(delta.get("refusal"))
        if text:
            parts.append(Part(REFUSAL, text))
        return parts


class CompletionsAdapter(ChatAdapter):
    """Legacy Completions: `choices[0].text`, ending with `data: [DONE]`."""
    path = "/completions"

    def body(self, model, messages, max_tokens, temperature, usage, openai_host):
        body = ChatAdapter.body(self, model, messages, max_tokens, temperature, usage, False)
        body["prompt"] = _flatten(body.pop("messages"))
        return body

    def _parts(self, choice, field):
        return _text_parts(choice.get("text"))


class ResponsesAdapter(Adapter):
    """Responses API: typed events; complete at response.completed, no [DONE]."""
    path = "/responses"
    _kinds = {
        "response.output_text.delta": TEXT,
        "response.refusal.delta": REFUSAL,
        "response.reasoning_summary_text.delta": REASONING,
        "response.reasoning_text.delta": REASONING,
    }

    def body(self, model, messages, max_tokens, temperature, usage, openai_host):
        system = [m["content"] for m in messages if m["role"] == "system"]
        rest = [m for m in messages if m["role"] != "system"]
        body = {"model": model, "stream": True}  # type: Dict[str, Any]
        if system:
            body["instructions"] = "\n\n".join(system)
        body["input"] = rest[0]["content"] if len(rest) == 1 and rest[0]["role"] == "user" else rest
        # usage always arrives in response.completed
        return _sampling(body, "max_output_tokens", max_tokens, temperature)

    def feed(self, event):
        if event.data.strip() == "[DONE]":  # some compatible servers add it anyway
            return []
        obj = _parse_json(event.data)
        kind = obj.get("type") or event.event or ""
        if kind in self._kinds:
            return _text_parts(obj.get("delta"), self._kinds[kind])
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            response = obj.get("response") if isinstance(obj.get("response"), dict) else {}
            self._finish(response)
            if kind == "response.failed":
                raise _error_from(response.get("error") or {"message": "response failed"})
        elif kind == "error" or obj.get("error") and not kind.startswith("response."):
            obj = dict(obj)
            if obj.get("type") == "error":
                del obj["type"]  # the event's type, not the error's
            raise _error_from(obj)
        return []

    def _finish(self, response: "Dict[str, Any]") -> None:
        self.done = True
        self.usage = response.get("usage") or self.usage
        self.model = response.get("model") or self.model
        details = response.get("incomplete_details")
        if response.get("status") == "incomplete" or details:
            reason = details.get("reason") if isinstance(details, dict) else None
            self.finish_reason = reason or "incomplete"
        else:
            self.finish_reason = response.get("status") or "completed"

    def from_json(self, obj):
        if obj.get("error"):
            raise _error_from(obj)
        self._finish(obj)
        parts = []  # type: List[Part]
        for item in obj.get("output") or []:
            for content in (item.get("content") or []) if isinstance(item, dict) else []:
                if isinstance(content, dict) and content.get("type") == "output_text":
                    parts += _text_parts(content.get("text"))
                elif isinstance(content, dict) and content.get("type") == "refusal":
                    parts += _text_parts(content.get("refusal"), REFUSAL)
        return parts


def _sampling(body: "Dict[str, Any]", max_field: str, max_tokens: "Optional[int]",
              temperature: "Optional[float]") -> "Dict[str, Any]":
    """The options every API shares, under each API's own names."""
    if max_tokens is not None:
        body[max_field] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    return body


ADAPTERS = {"chat": ChatAdapter, "completions": CompletionsAdapter, "responses": ResponsesAdapter}
CUT_REASONS = {"length", "content_filter", "max_output_tokens", "incomplete"}


_scan_json = json.JSONDecoder().scan_once  # type: ignore  # the C scanner, without loads()'s frames


def _parse_json(data: str) -> "Dict[str, Any]":
    try:
        obj, end = _scan_json(data, 0)
        if end != len(data) and data[end:].strip():
            raise ValueError("extra data")
    except (StopIteration, ValueError):  # StopIteration: no JSON value at the start
        try:
            obj = json.loads(data)  # leading white space is valid JSON; loads knows it
        except ValueError:
            raise ProtocolError("invalid JSON in stream event: %s" % _excerpt(data))
    if type(obj) is not dict:
        raise ProtocolError("unexpected stream event (not a JSON object): %s" % _excerpt(data))
    return obj


def _text_of(value: "Any") -> str:
    """Text of a content field: a string, or a list of parts as some servers send."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text") or "" if isinstance(p, dict) else p if isinstance(p, str)
                       else "" for p in value)
    return ""


def _text_parts(value: "Any", kind: str = TEXT) -> "List[Part]":
    text = _text_of(value)
    return [Part(kind, text)] if text else []


def _flatten(messages: "List[Dict[str, str]]") -> str:
    """Messages as one prompt for the legacy Completions API."""
    if len(messages) == 1:
        return messages[0]["content"]
    return "".join("%s: %s\n\n" % (m["role"].capitalize(), m["content"]) for m in messages) + \
        "Assistant:"


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
# HTTP transport: the only place that touches urllib
# ---------------------------------------------------------------------------


class Request(namedtuple("Request", "url body headers api_key timeout retries")):
    """Everything needed to send one streaming request. The key stays out of repr()."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "Request(url=%r, model=%r, key=%s)" % (self.url, self.body.get("model"),
                                                      _redact_key(self.api_key))


def _redact_key(key: "Optional[str]") -> str:
    return "none" if not key else "..." + key[-4:] if len(key) > 12 else "***"


def _origin(url: str) -> "Tuple[str, str, int]":
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _open(request: Request, notify: "Any") -> "Any":
    """POST the request and return the http.client response, retrying before any output."""
    attempt = 0
    while True:
        try:
            return _open_once(request)
        except (APIError, NetworkError) as exc:
            if attempt >= request.retries or not _retryable(exc):
                raise
            attempt += 1
            wait = exc.retry_after if isinstance(exc, APIError) else None
            if wait is None:
                import random
                wait = min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())
            wait = min(max(wait, 0.0), MAX_RETRY_WAIT)
            notify("%s; retrying in %.1f s (retry %d of %d)" % (exc, wait, attempt,
                                                               request.retries), wait)
            time.sleep(wait)


def _retryable(exc: OAIStreamError) -> bool:
    if isinstance(exc, APIError):
        if exc.should_retry is not None:  # x-should-retry wins, as in the official SDK
            return exc.should_retry
        return exc.status in (408, 409, 429) or (exc.status or 0) >= 500
    return isinstance(exc, NetworkError) and exc.retryable


def _open_once(request: Request) -> "Any":
    import urllib.error
    import urllib.request

    # Redirects are handled below, never by urllib: it would turn a POST into a GET
    # and, without add_unredirected_header, carry the key to another host.
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: "Any", **kwargs: "Any") -> None:
            return None
    handlers = [NoRedirect()]  # type: List[Any]
    if request.url.startswith("https:"):
        import ssl  # verified against the system store, SSL_CERT_FILE and SSL_CERT_DIR
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context()))
    opener = urllib.request.build_opener(*handlers)
    url, data = request.url, json.dumps(request.body).encode("utf-8")
    for _ in range(MAX_REDIRECTS + 1):
        req = urllib.request.Request(url, data=data, method="POST")
        for name, value in request.headers.items():
            if name.lower() in SECRET_HEADERS:  # never carried by a redirect
                req.add_unredirected_header(name, value)
            else:
                req.add_header(name, value)
        if request.api_key and not any(h.lower() == "authorization" for h in request.headers):
            req.add_unredirected_header("Authorization", "Bearer " + request.api_key)
        try:
            return opener.open(req, timeout=request.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303, 307, 308):
                url = _redirect_target(url, exc)
                continue
            raise _http_error(exc)
        except urllib.error.URLError as exc:
            raise _network_error(exc.reason, url)
        except Exception as exc:  # OSError, timeouts, http.client's BadStatusLine and kin
            raise _network_error(exc, url)
    raise RedirectError("too many redirects (more than %d)" % MAX_REDIRECTS, url)


def _redirect_target(url: str, exc: "Any") -> str:
    from urllib.parse import urljoin
    location = exc.headers.get("Location") or ""
    exc.close()
    target = urljoin(url, location)
    shown = _one_line(target, 300)  # server text on the user's terminal
    if not location:
        raise RedirectError("HTTP %d redirect without a Location" % exc.code, "")
    if exc.code not in (307, 308):
        raise RedirectError("server redirected (HTTP %d) to %s; not following: it would turn "
                            "the POST into a GET. Use that URL as --base-url"
                            % (exc.code, shown), target)
    if _origin(target) != _origin(url):
        raise RedirectError("server redirected (HTTP %d) to another origin, %s; not following "
                            "with your key. Use that URL as --base-url if you trust it"
                            % (exc.code, shown), target)
    return target


def _http_error(exc: "Any") -> APIError:
    """An HTTP error status, with the server's JSON error message or a body excerpt."""
    try:
        body = exc.read(MAX_ERROR_BODY)
    except Exception:
        body = b""
    finally:
        exc.close()
    try:
        err = _error_from(json.loads(body.decode("utf-8", "replace")), exc.code)
    except ValueError:
        reason = _one_line(exc.reason, 100) if isinstance(exc.reason, str) else ""
        err = APIError((reason + ": " if reason else "") + _excerpt(body) if body.strip()
                       else reason or "no details", exc.code)
    headers = exc.headers
    err.retry_after = _retry_after(headers)
    flag = (headers.get("x-should-retry") or "").strip().lower()
    err.should_retry = {"true": True, "false": False}.get(flag)
    return err


def _retry_after(headers: "Any") -> "Optional[float]":
    """Seconds to wait from retry-after-ms (OpenAI) or Retry-After (seconds or HTTP date)."""
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    value = headers.get("retry-after")
    if not value or _seconds(value) is not None:
        return _seconds(value)
    from email.utils import parsedate_tz, mktime_tz
    parsed = parsedate_tz(value)
    return max(0.0, mktime_tz(parsed) - time.time()) if parsed else None


def _seconds(text: "Optional[str]") -> "Optional[float]":
    """A finite, non-negative number, or None (NaN, inf and garbage are ignored)."""
    try:
        value = float(text)  # type: ignore
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < float("inf") else None


def _network_error(reason: "Any", url: str) -> NetworkError:
    import socket
    import ssl
    host = "%s://%s:%d" % _origin(url)
    text = _one_line(reason)
    verify = getattr(ssl, "SSLCertVerificationError", ssl.CertificateError)  # 3.7+
    if isinstance(reason, (verify, ssl.CertificateError)) or (
            isinstance(reason, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in text):
        detail = getattr(reason, "verify_message", None) or getattr(reason, "reason", None) or text
        exc = NetworkError("TLS certificate verification failed for %s: %s. To trust a corporate "
                           "CA, set SSL_CERT_FILE to its PEM file" % (host, detail))
    elif isinstance(reason, ssl.SSLError):
        exc = NetworkError("TLS error with %s: %s" % (host, text))
    elif "Tunnel connection failed" in text:
        exc = NetworkError("the proxy refused the tunnel to %s: %s (check HTTPS_PROXY and its "
                           "user:password)" % (host, text.split(": ", 1)[-1]))
    elif isinstance(reason, socket.timeout) or "timed out" in text:
        exc = IdleTimeout("timed out connecting to %s or waiting for its answer (--timeout)"
                          % host)
    elif isinstance(reason, socket.gaierror):
        exc = NetworkError("cannot resolve %s: %s" % (host, reason.strerror or text))
    elif isinstance(reason, ConnectionRefusedError):
        exc = NetworkError("connection refused by %s" % host)
    elif type(reason).__name__ == "RemoteDisconnected":
        exc = NetworkError("%s closed the connection without answering" % host)
    elif type(reason).__module__ == "http.client":  # BadStatusLine, LineTooLong and kin
        exc = NetworkError("%s did not answer with valid HTTP: %s" % (host, _excerpt(text)))
    else:
        exc = NetworkError("cannot reach %s: %s" % (
            host, getattr(reason, "strerror", None) or text or type(reason).__name__))
    # Waiting heals a refused or dropped connection, never a certificate or a proxy password.
    exc.retryable = not (isinstance(reason, (ssl.SSLError, ssl.CertificateError))
                         or "Tunnel connection failed" in text)
    return exc


class BodyFramer:
    """HTTP/1.1 message body framing, sans-I/O: chunked (RFC 9112 7.1), Content-Length, or
    delimited by the close. feed(raw bytes) -> body bytes; end() at EOF."""

    def __init__(self, chunked: bool, length: "Optional[int]") -> None:
        self.chunked, self.left, self.done = chunked, length, False
        self._buf = b""
        self._state = "size"  # size, data, crlf, trailer
        self.error = None  # type: Optional[ProtocolError]  # held back to deliver the body first

    def feed(self, raw: bytes) -> bytes:
        if not self.chunked:
            if self.left is None:
                return raw
            raw = raw[:self.left]
            self.left -= len(raw)
            self.done = self.left == 0
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
                    error = _broken("no CRLF after a chunk")
                    break
                state = "size"
            else:  # a chunk-size line or a trailer line
                eol = buf.find(b"\n", pos)
                if eol < 0:
                    if end - pos > 4096:
                        error = _broken("chunk header too long")
                    break
                line = buf[pos:eol].rstrip(b"\r")
                pos = eol + 1
                if state == "trailer":
                    if not line:
                        self.done = True
                        break
                    continue
                size = line if line and not line.strip(_HEX) else \
                    line.split(b";", 1)[0].strip(b" \t")  # extensions, white space: rare
                if not size or size.strip(_HEX):
                    error = _broken("bad chunk size %r" % line[:20])
                    break
                left = int(size, 16)
                stop = pos + left
                if left and buf[stop:stop + 2] == b"\r\n":  # the usual: the whole chunk is here
                    out.append(buf[pos:stop])
                    pos, left = stop + 2, 0
                    continue
                state = "data" if left else "trailer"
        self._buf, self._state, self.left = buf[pos:], state, left
        if error:
            if not out:
                raise error
            self.error = error
        return b"".join(out)

    def end(self) -> None:
        """The connection closed: fine unless it cut a chunk or a sized body short."""
        if self.error:
            raise self.error
        if self.chunked and (self._buf or self._state in ("data", "crlf")) or \
                (not self.chunked and self.left):
            raise _broken("the connection ended mid-message")


_HEX = b"0123456789abcdefABCDEF"


def _broken(why: str) -> ProtocolError:
    return ProtocolError("broken HTTP transfer (chunked encoding or length): " + why)


def _stream_error(exc: BaseException, timeout: float) -> OAIStreamError:
    """Translate an exception raised while reading the body."""
    import socket
    if isinstance(exc, socket.timeout):
        return IdleTimeout("no data from the server for %g s (--timeout); the stream stalled"
                           % timeout)
    name = type(exc).__name__
    if name in ("IncompleteRead", "ValueError"):
        return ProtocolError("broken HTTP transfer (chunked encoding or length): the "
                             "connection ended mid-message")
    if isinstance(exc, ConnectionResetError):
        return NetworkError("connection reset by the server in the middle of the stream")
    return NetworkError("stream interrupted: %s" % (getattr(exc, "strerror", None) or exc or name))


# ---------------------------------------------------------------------------
# The stream: transport + decoder + adapter
# ---------------------------------------------------------------------------


class Stream:
    """An open streaming answer. Iterate it for text deltas (answer and refusal text).

    `batches()` yields, per network read, the Parts that read completed, reasoning included;
    `raw_events()` yields the SSE events themselves. After the end: `finish_reason`, `cut`,
    `usage`, `model`, `first_token_time` and `elapsed` (seconds).
    """

    def __init__(self, request: Request, adapter: Adapter, notify: "Any" = None) -> None:
        self.request, self.adapter = request, adapter
        self.started = time.monotonic()
        self.first_token_time = None  # type: Optional[float]
        self.elapsed = None  # type: Optional[float]
        self.parts_received = 0  # deltas: a speed figure when the server reports no usage
        self._response = _open(request, notify or (lambda message, wait: None))
        self.status = self._response.status
        self.content_type = (self._response.headers.get("Content-Type") or "").lower()

    def __repr__(self) -> str:
        return "<oai_stream.Stream %r>" % (self.request,)

    finish_reason = property(lambda self: self.adapter.finish_reason)
    usage = property(lambda self: self.adapter.usage)
    model = property(lambda self: self.adapter.model)

    @property
    def cut(self) -> bool:
        """Whether the server stopped the answer early (a token limit, a content filter)."""
        return self.finish_reason in CUT_REASONS

    def __iter__(self) -> "Iterator[str]":
        for batch in self.batches():
            for part in batch:
                if part.kind != REASONING:
                    yield part.text

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: "Any") -> None:
        self.close()

    def close(self) -> None:
        self._response.close()

    def batches(self) -> "Iterator[List[Part]]":
        for _, parts in self._parsed():
            if parts:
                yield parts

    def raw_events(self) -> "Iterator[List[Event]]":
        """Per network read, its events (a JSON answer comes as one Event of type "json")."""
        for events, _ in self._parsed():
            yield events

    def _parsed(self) -> "Iterator[Tuple[List[Event], List[Part]]]":
        """Per network read, its events and their Parts; each event goes through the adapter
        once. On an error event, what came before it is yielded first, then the error raised.
        At the end, whether the answer is whole."""
        adapter = self.adapter
        try:
            chunks = self._body()
            first = next(chunks, b"")
            if not first:
                raise ProtocolError("the server answered %d but sent an empty body" % self.status)
            if self._is_json(first):
                text, whole = self._json_answer(first, chunks)
                self._count(whole)
                yield [Event("json", text, None, None)], whole
                return
            decoder = SSEDecoder()
            for chunk in chain((first,), chunks):
                events = decoder.feed(chunk)
                if not events:
                    continue
                parts = []  # type: List[Part]
                try:
                    for event in events:
                        parts += adapter.feed(event)
                except OAIStreamError:
                    self._count(parts)
                    yield events, parts
                    raise
                self._count(parts)
                yield events, parts
                if adapter.done:
                    break  # nothing is to come after the terminal event: don't wait for a close
            decoder.close()
            if not adapter.complete():
                raise IncompleteStream("stream ended before the answer was complete")
        finally:
            self.elapsed = time.monotonic() - self.started
            self.close()

    def _count(self, parts: "List[Part]") -> None:
        if parts:
            self.parts_received += len(parts)
            if self.first_token_time is None:
                self.first_token_time = time.monotonic() - self.started

    def _body(self) -> "Iterator[bytes]":
        # One socket read at a time: fp.read1() returns what is buffered or what one recv()
        # delivers, so every event in it is handed on at once, and no read waits for more.
        # HTTPResponse.read1() would stop at each HTTP chunk: one event, one write per call.
        body = BodyFramer(self._response.chunked, self._response.length)
        read1 = self._response.fp.read1
        coding = (self._response.headers.get("Content-Encoding") or "identity").strip().lower()
        inflate = None
        if coding in ("gzip", "x-gzip", "deflate"):  # sent though we asked for identity
            import zlib
            inflate = zlib.decompressobj(31 if "gzip" in coding else 15).decompress
        elif coding != "identity":
            raise ProtocolError("unsupported Content-Encoding %r" % coding)
        while not body.done:
            if body.error:
                raise body.error
            try:
                raw = read1(READ_SIZE)
            except Exception as exc:
                raise _stream_error(exc, self.request.timeout)
            if not raw:
                body.end()  # raises if the connection ended inside an HTTP chunk
                return
            chunk = body.feed(raw)
            if inflate and chunk:
                try:
                    chunk = inflate(chunk)
                except Exception as exc:  # zlib.error
                    raise ProtocolError("broken %s body: %s" % (coding, exc))
            if chunk:
                yield chunk

    def _is_json(self, first: bytes) -> bool:
        """Decide by the first bytes, then the Content-Type: servers mislabel both ways. An
        HTML page or other body, as a captive portal or a gateway sends, is refused."""
        head = first.lstrip(b"\xef\xbb\xbf \t\r\n")[:6]
        if head[:5] in (b"data:", b"event", b"id:", b"retry") or head[:1] == b":":
            return False
        if "json" in self.content_type or head[:1] == b"{":
            return True
        if "event-stream" in self.content_type:
            return False
        raise ProtocolError("expected an event stream, got %r: %s" % (
            self.content_type or "no content type", _excerpt(first)))

    def _json_answer(self, first: bytes, rest: "Iterator[bytes]") -> "Tuple[str, List[Part]]":
        """A whole JSON answer where a stream was asked for (some servers ignore stream)."""
        parts, size = [first], len(first)
        for chunk in rest:
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_SIZE:
                raise ProtocolError("JSON answer larger than %d bytes" % MAX_BODY_SIZE)
        text = b"".join(parts).decode("utf-8", "replace")
        try:
            obj = json.loads(text)
        except ValueError:
            raise ProtocolError("invalid JSON answer: %s" % _excerpt(text))
        if not isinstance(obj, dict):
            raise ProtocolError("unexpected JSON answer: %s" % _excerpt(text))
        return text, self.adapter.from_json(obj)


def build_request(prompt: "Optional[str]" = None, messages: "Optional[List[Dict[str, str]]]" = None,
                  model: "Optional[str]" = None, system: "Optional[str]" = None,
                  api: str = "chat", base_url: "Optional[str]" = None,
                  api_key: "Optional[str]" = None, temperature: "Optional[float]" = None,
                  max_tokens: "Optional[int]" = None, headers: "Optional[Dict[str, str]]" = None,
                  timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                  usage: bool = False, extra_body: "Optional[Dict[str, Any]]" = None,
                  env: "Optional[Dict[str, str]]" = None) -> "Tuple[Request, Adapter]":
    """Resolve options and environment (as the official SDK reads it) into a Request."""
    env = dict(os.environ) if env is None else env
    if api not in ADAPTERS:
        raise ConfigError("unknown API %r: choose one of %s" % (api, ", ".join(ADAPTERS)))
    adapter = ADAPTERS[api]()
    model = model or env.get("OPENAI_MODEL") or DEFAULT_MODEL
    headers = dict(headers or {})
    query = ""
    azure = env.get("AZURE_OPENAI_ENDPOINT")
    if not base_url and not env.get("OPENAI_BASE_URL") and azure:
        # Azure OpenAI: a dated api-version uses the deployment URL; none uses the v1 API.
        version = env.get("OPENAI_API_VERSION")
        base_url = azure.rstrip("/") + ("/openai/deployments/%s" % model if version
                                         else "/openai/v1")
        query = "api-version=" + version if version else ""
        azure_key = api_key or env.get("AZURE_OPENAI_API_KEY")
        if azure_key and not any(h.lower() == "api-key" for h in headers):
            headers["api-key"] = azure_key
        api_key = None
    else:
        base_url = base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if api_key is None:
            api_key = env.get("OPENAI_API_KEY") or _key_from_file(env.get("OPENAI_API_KEY_FILE"))
    url = _endpoint(base_url, adapter.path, query)
    openai_host = _origin(url)[1] == "api.openai.com"
    has_auth = any(h.lower() in ("authorization", "api-key") for h in headers)
    if openai_host and not api_key and not has_auth:
        raise ConfigError("no API key: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE, or "
                          "--api-key-file) to your key from platform.openai.com/api-keys")
    for var, name in (("OPENAI_ORG_ID", "OpenAI-Organization"),
                      ("OPENAI_PROJECT_ID", "OpenAI-Project")):
        if env.get(var) and not any(h.lower() == name.lower() for h in headers):
            headers[name] = env[var]
    if messages is None:
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt or ""})
    elif system:
        messages = [{"role": "system", "content": system}] + list(messages)
    body = adapter.body(model, messages, max_tokens, temperature, usage, openai_host)
    body.update(extra_body or {})
    base_headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Accept-Encoding": "identity",  # a compressed stream would be held back in buffers
        "User-Agent": "oai_stream/%s (Python %s)" % (__version__, sys.version.split()[0]),
    }
    for name in list(base_headers):
        if any(h.lower() == name.lower() for h in headers):
            del base_headers[name]
    base_headers.update(headers)
    return Request(url, body, base_headers, api_key, timeout, retries), adapter


def _endpoint(base_url: str, path: str, query: str = "") -> str:
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("base URL must be http:// or https://, got %r" % base_url)
    base_path = parts.path.rstrip("/")
    full = base_path.endswith(path) and not base_path.endswith("/chat" + path)
    if not full:  # a full endpoint URL is accepted as it is
        base_path += path
    query = "&".join(q for q in (parts.query, query) if q)
    return urlunsplit((parts.scheme, parts.netloc, base_path, query, ""))


def _key_from_file(path: "Optional[str]") -> "Optional[str]":
    if not path:
        return None
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError as exc:
        raise ConfigError("cannot read the API key file %s: %s" % (path, exc.strerror))


def stream(prompt: "Optional[str]" = None, **options: "Any") -> Stream:
    """Start a streaming answer; iterate the result for text deltas.

    Options: model, system, messages (a list of {"role", "content"} instead of prompt),
    api ("chat", "completions" or "responses"), base_url, api_key, temperature,
    max_tokens, headers, timeout, retries, usage, extra_body (merged into the JSON body).
    Unset options come from the environment as in the official SDK (OPENAI_API_KEY,
    OPENAI_BASE_URL, OPENAI_MODEL). Raises OAIStreamError subclasses.
    """
    request, adapter = build_request(prompt, **options)
    return Stream(request, adapter)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

USAGE_EXAMPLES = """\
examples:
  oai_stream.py "What is Python?"
  git diff | oai_stream.py "Review this diff"
  oai_stream.py -s "Answer in French" -t 0.2 --max-tokens 200 "Hello"
  oai_stream.py -o reasoning_effort=low -o seed=7 "Why is the sky blue?"
  oai_stream.py --base-url http://127.0.0.1:11434/v1 -m llama3.2 "Hi"   # Ollama, no key
  oai_stream.py --api responses --reasoning -m gpt-6.1-sol "Prove it"
  oai_stream.py -i                                                     # chat

environment: OPENAI_API_KEY, OPENAI_API_KEY_FILE, OPENAI_BASE_URL, OPENAI_MODEL,
  OPENAI_ORG_ID, OPENAI_PROJECT_ID, AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY,
  OPENAI_API_VERSION, HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR
exit codes: 0 answer complete, 1 API/network/protocol failure, 2 usage error,
  130 interrupted"""


class UsageError(Exception):
    pass


def _parser() -> "Any":
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore  # exit codes belong to main()
            raise UsageError(message)

    p = Parser(prog="oai_stream.py", description="Stream an answer from the OpenAI API or any "
               "OpenAI-compatible server.", epilog=USAGE_EXAMPLES, allow_abbrev=False,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("prompt", nargs="*", help="the prompt (words joined by spaces); '-' or none: stdin")
    add("-m", "--model", help="model name (default: $OPENAI_MODEL or %s)" % DEFAULT_MODEL)
    add("-s", "--system", help="system prompt")
    add("-t", "--temperature", type=float, help="sampling temperature")
    add("--max-tokens", type=int, metavar="N", help="limit the answer to N tokens")
    add("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
        help="extra body field; VALUE is JSON when it parses, else a string (repeatable)")
    add("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
        help="extra HTTP header (repeatable)")
    add("--api", choices=sorted(ADAPTERS), default="chat", help="which API (default: chat)")
    add("--base-url", help="API base URL (default: $OPENAI_BASE_URL or %s)" % DEFAULT_BASE_URL)
    add("--api-key-file", metavar="PATH", help="read the API key from this file")
    add("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
        help="connect and idle timeout: longest wait for the next bytes (default: %g)"
        % DEFAULT_TIMEOUT)
    add("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
        help="retries before any output (default: %d)" % DEFAULT_RETRIES)
    add("--reasoning", action="store_true", help="show the model's reasoning on stderr")
    add("--usage", action="store_true", help="print token usage and speed on stderr")
    add("--json", action="store_true", help="print each event as a JSON line, no text")
    add("-i", "--interactive", action="store_true",
        help="chat: a conversation in the terminal (also when no prompt and stdin is a tty)")
    add("-v", "--verbose", action="store_true", help="print the request summary on stderr")
    add("--version", action="version", version="oai_stream %s" % __version__)
    return p


def _parse_options(pairs: "List[str]") -> "Dict[str, Any]":
    body = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UsageError("-o expects KEY=VALUE, got %r" % pair)
        try:
            body[key] = json.loads(value)
        except ValueError:
            body[key] = value
    return body


def _parse_headers(lines: "List[str]") -> "Dict[str, str]":
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or any(c in name for c in " \t\r\n") or \
                "\n" in value or "\r" in value:
            # Only the first word is echoed: the rest may be a key.
            raise UsageError("-H expects 'Name: value', got %r..." % line.split()[0][:40]
                             if line.split() else "-H expects 'Name: value'")
        headers[name] = value.strip()
    return headers


class Output:
    """Writes answer text to stdout as UTF-8, flushed per batch, whatever the locale."""

    def __init__(self, out: "Any", err: "Any") -> None:
        self.out = getattr(out, "buffer", None)
        self.text_out = out
        self.err = err
        self.err_bytes = getattr(err, "buffer", None)
        self.secrets = [k for k in (os.environ.get("OPENAI_API_KEY"),
                                    os.environ.get("AZURE_OPENAI_API_KEY")) if k]
        self.last = ""  # last character written to stdout
        self.in_reasoning = False
        self.color = hasattr(err, "isatty") and err.isatty() and not os.environ.get("NO_COLOR")

    def write(self, text: str) -> None:
        if not text:
            return
        self.last = text[-1]  # first: a Ctrl-C right after the write must still see it
        if self.out is not None:
            self.out.write(text.encode("utf-8", "replace"))
            self.out.flush()
        else:
            self.text_out.write(text)
            self.text_out.flush()

    def reasoning(self, text: str, start: bool) -> None:
        if start != self.in_reasoning:
            self.in_reasoning = start
            if start:
                self.note("\x1b[2m[reasoning]\n" if self.color else "[reasoning]\n", raw=True)
            else:
                self.note("\n[/reasoning]\x1b[0m\n" if self.color else "\n[/reasoning]\n", raw=True)
        if text:
            self.note(text, raw=True)

    def protect(self, request: "Request") -> None:
        """Every secret of the request is scrubbed from every message (defence in depth)."""
        for name, value in request.headers.items():
            if name.lower() in SECRET_HEADERS and value.split():
                self.secrets += [value, value.split()[-1]]
        if request.api_key:
            self.secrets.append(request.api_key)

    def note(self, message: str, raw: bool = False) -> None:
        if not raw:
            for secret in self.secrets:
                if len(secret) >= 4:
                    message = message.replace(secret, _redact_key(secret))
        if not raw and self.last and self.last != "\n" and self.err_is_out():
            message = "\n" + message
        message = message if raw else "oai_stream: %s\n" % message
        if self.err_bytes is not None:  # UTF-8 too: reasoning is model text
            self.err.flush()
            self.err_bytes.write(message.encode("utf-8", "replace"))
            self.err_bytes.flush()
        else:
            self.err.write(message)
            self.err.flush()

    def err_is_out(self) -> bool:
        try:
            return os.path.samestat(os.fstat(self.text_out.fileno()), os.fstat(self.err.fileno()))
        except Exception:
            return False

    def finish(self) -> None:
        """Exactly one newline at the end if the text does not already end with one."""
        if self.in_reasoning:
            self.reasoning("", False)
        if self.last and self.last != "\n":
            self.write("\n")


def main(argv: "Optional[List[str]]" = None) -> int:
    """Run the command line; returns the exit code."""
    out = Output(sys.stdout, sys.stderr)
    try:
        argv = sys.argv[1:] if argv is None else argv
        if any(a == "--api-key" or a.startswith("--api-key=") for a in argv):
            raise UsageError("the key is never taken as a flag (it would show in ps): set "
                             "OPENAI_API_KEY or use --api-key-file")
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        options = _parse_options(args.option)
        headers = _parse_headers(args.header)
        if args.timeout <= 0 or args.retries < 0:
            raise UsageError("--timeout must be > 0 and --retries >= 0")
        api_key = _key_from_file(args.api_key_file) if args.api_key_file else None
        settings = dict(model=args.model, system=args.system, api=args.api,
                        base_url=args.base_url, api_key=api_key,
                        temperature=args.temperature, max_tokens=args.max_tokens,
                        headers=headers, timeout=args.timeout, retries=args.retries,
                        usage=args.usage, extra_body=options)
        stdin_tty = sys.stdin is not None and sys.stdin.isatty()
        if args.interactive or (not args.prompt and stdin_tty):
            request, _ = build_request("", **settings)  # validates the settings early
            out.protect(request)
            return _chat(args, settings, out)
        prompt = _read_prompt(args.prompt, stdin_tty)
        request, adapter = build_request(prompt, **settings)
        out.protect(request)
        return _run(request, adapter, args, out)
    except UsageError as exc:
        out.note("%s (see --help)" % exc)
        return EXIT_USAGE
    except ConfigError as exc:
        out.note(str(exc))
        return EXIT_USAGE
    except OAIStreamError as exc:
        message = str(exc)
        _quiet(out.finish)  # the text so far stays, ended by a newline
        _quiet(lambda: out.note(message))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _quiet(out.finish)
        _quiet(lambda: out.note("interrupted"))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (| head): end quietly; silence the flush at interpreter exit.
        _quiet(lambda: os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno()))
        return EXIT_OK


def _quiet(action: "Any") -> None:
    try:
        action()
    except Exception:
        pass


def _read_prompt(words: "List[str]", stdin_tty: bool) -> str:
    """Words joined by spaces; stdin too when it is piped or asked for with '-' (after a
    blank line when both are given, as in `git diff | oai_stream.py "Review this"`)."""
    prompt = " ".join(w for w in words if w != "-")
    if not words or "-" in words or not stdin_tty:
        data = getattr(sys.stdin, "buffer", sys.stdin).read() if sys.stdin else b""
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        data = data.rstrip("\n")
        if data:
            prompt = prompt + "\n\n" + data if prompt else data
    if not prompt.strip():
        raise UsageError("no prompt: give one as arguments or on stdin")
    return prompt


def _notify_retry(verbose: bool, out: Output) -> "Any":
    def notify(message: str, wait: float) -> None:
        if verbose or wait > 1.0:
            out.note(message)
    return notify


def _import_urllib_without_ssl(url: str) -> None:
    """A plain-HTTP run needs no TLS: loading urllib without ssl saves milliseconds and
    about 4 MB of OpenSSL. The CLI makes one request, so this cannot hurt a later one."""
    proxies = [v for k, v in os.environ.items() if k.lower().endswith("_proxy")]
    if not url.startswith("http:") or any(p.startswith("https:") for p in proxies) or \
            "urllib.request" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore  # `import ssl` fails: urllib skips HTTPS
    try:
        import urllib.request  # noqa: F401
    finally:
        del sys.modules["ssl"]


def _run(request: Request, adapter: Adapter, args: "Any", out: Output) -> int:
    _import_urllib_without_ssl(request.url)
    if args.verbose:
        _describe(request, out)
    answer = Stream(request, adapter, _notify_retry(args.verbose, out))
    if args.verbose:
        out.note("HTTP %d %s" % (answer.status, answer.content_type or "(no content type)"))
    if args.json:
        _print_json(answer, out)
    else:
        _print_text(answer, args.reasoning, out)
    out.finish()  # after an error, main() ends the text instead
    _report(answer, args.usage, out)
    return EXIT_OK


def _print_text(answer: Stream, show_reasoning: bool, out: Output,
                keep: "Optional[List[str]]" = None) -> None:
    """The answer to stdout, one write and one flush per network read; `keep` collects it."""
    for batch in answer.batches():
        text = []  # type: List[str]
        for kind, piece in batch:
            if kind == REASONING:
                if show_reasoning:
                    out.reasoning(piece, True)
                continue
            if out.in_reasoning:
                out.write("".join(text))
                text = []
                out.reasoning("", False)
            text.append(piece)
        if keep is not None:
            keep += text
        out.write("".join(text))


def _print_json(answer: Stream, out: Output) -> None:
    for events in answer.raw_events():
        lines = []
        for event in events:
            try:
                data = json.loads(event.data)
            except ValueError:
                data = event.data
            lines.append(json.dumps({"event": None if event.event == "json" else event.event,
                                     "data": data}, ensure_ascii=False) + "\n")
        out.write("".join(lines))


def _report(answer: Stream, usage: bool, out: Output) -> None:
    reason = answer.finish_reason
    if reason in CUT_REASONS:
        why = {"length": "the token limit (finish_reason: length)",
               "max_output_tokens": "the token limit (max_output_tokens)",
               "content_filter": "the content filter (finish_reason: content_filter)"}
        out.note("the answer was cut short by %s" % why.get(reason, reason))
    elif reason in ("tool_calls", "function_call"):
        out.note("the model asked to call a tool (finish_reason: %s); oai_stream runs no tools"
                 % reason)
    if usage:
        out.note(_usage_line(answer))


def _usage_line(answer: Stream) -> str:
    u = answer.usage if isinstance(answer.usage, dict) else {}
    prompt = u.get("prompt_tokens", u.get("input_tokens"))
    completion = u.get("completion_tokens", u.get("output_tokens"))
    total = u.get("total_tokens")
    timing = ""
    if answer.first_token_time is not None:
        timing = "first token %.2f s" % answer.first_token_time
        span = (answer.elapsed or 0) - answer.first_token_time
        if isinstance(completion, int) and span > 0:
            timing += ", %.1f tokens/s" % (completion / span)
        elif span > 0 and answer.parts_received > 1:
            timing += ", %.1f deltas/s" % ((answer.parts_received - 1) / span)
    if prompt is None and completion is None:
        return "usage: not reported by the server" + ("; " + timing if timing else "")
    counts = "usage: %s prompt + %s completion = %s tokens" % (
        prompt, completion, total if total is not None else (prompt or 0) + (completion or 0))
    return counts + ("; " + timing if timing else "")


def _describe(request: Request, out: Output) -> None:
    out.note("POST %s" % request.url)
    shown = dict(request.headers)
    for name in shown:
        if name.lower() in SECRET_HEADERS:
            shown[name] = _redact_key(shown[name])
    if request.api_key:
        shown["Authorization"] = "Bearer " + _redact_key(request.api_key)
    for name, value in shown.items():
        out.note("  %s: %s" % (name, value))
    body = dict(request.body)
    for key in ("messages", "prompt", "input", "instructions"):
        if key in body:
            body[key] = "<%d chars>" % len(json.dumps(body[key]))
    out.note("  body: %s" % json.dumps(body, ensure_ascii=False))


def _chat(args: "Any", settings: "Dict[str, Any]", out: Output) -> int:
    """A conversation: history kept, Ctrl-C stops the answer, /exit or Ctrl-D leaves."""
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    if tty:
        try:
            import readline  # noqa: F401  line editing and history where the platform has it
        except ImportError:
            pass
    history = []  # type: List[Dict[str, str]]
    out.note("chat with %s; /exit or Ctrl-D to leave, Ctrl-C stops an answer"
             % (settings["model"] or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL))
    while True:
        try:
            if tty:
                line = input(">>> ")
            else:  # one turn per line, UTF-8 whatever the locale
                out.note(">>> ", raw=True)
                raw = sys.stdin.buffer.readline()
                if not raw:
                    raise EOFError
                line = raw.decode("utf-8", "replace")
        except EOFError:
            out.note("\n", raw=True)
            return EXIT_OK
        except KeyboardInterrupt:
            out.note("\n", raw=True)
            continue
        line = line.strip()
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return EXIT_OK
        history.append({"role": "user", "content": line})
        request, adapter = build_request(messages=list(history), **settings)
        text = []  # type: List[str]
        answer = None
        try:
            answer = Stream(request, adapter, _notify_retry(args.verbose, out))
            _print_text(answer, args.reasoning, out, keep=text)
            out.finish()
            _report(answer, args.usage, out)
        except KeyboardInterrupt:
            if answer is not None:
                _quiet(answer.close)
            out.finish()
            out.note("answer stopped")
        except OAIStreamError as exc:
            out.finish()
            out.note(str(exc))
        if text:
            history.append({"role": "assistant", "content": "".join(text)})
        else:
            history.pop()


if __name__ == "__main__":
    sys.exit(main())
