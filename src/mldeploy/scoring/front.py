"""The front's HTTP/1.1 connections: parsed by httptools, answered straight from the parser's callbacks.

No ASGI cycle, task or future per request: when a request head is complete, ``ScoringApp.admit`` answers
it or admits it; an admitted request's body is collected (within its limit and the shared budget) and
handed to a worker with a callback that writes the answer. Answers on a connection keep the order of its
requests (pipelined requests wait their turn).

Limits, each logging a rate-limited warning when hit: a connection over ``max_connections`` is answered
503 and closed; a request head must arrive within ``read_timeout_s`` (408, or a plain close for a
connection that sent nothing), then its body within ``read_timeout_s`` more (408); a head over
``max_header_bytes`` (the request line, the header lines and the blank line after them) or with more than
``max_headers`` headers is answered 431, checked after each read while it arrives (so a head is never held
past one read beyond them); an idle kept-alive connection is closed after ``KEEP_ALIVE_S``.
A refused request whose body has not all arrived is answered without reading it, and its connection is
then closed (what follows on it could not be told apart from the unread body).
"""

import asyncio
import logging
from collections import deque
from typing import Any
from urllib.parse import unquote

import httptools

from . import wire
from .app import ROUTES, ScoringApp, error_answer
from .bodies import BodyBudget, BodyBuffer, BodyRefused, RateLimitedWarning
from .connections import ConnectionLimits
from .dispatch import StreamedReply
from .request import Request
from .wire import Answer

logger = logging.getLogger("mldeploy.server")

KEEP_ALIVE_S = 5.0
MAX_PIPELINED = 16  # requests parsed ahead of their turn before the connection stops reading
WAITING, HEAD, BODY, IDLE = range(4)  # where the parser is, for the connection's one timer
INVALID = "Invalid HTTP request received."
HEAD_TOO_LARGE = "The request line and headers are over {limit} bytes."
TOO_MANY_HEADERS = "The request has more than {limit} headers ({count} received). Send fewer headers."
HEAD_FRAMING = len(b"  HTTP/1.1\r\n\r\n")  # a request line's spaces, version and end, and the blank line
LINE_FRAMING = len(b": \r\n")  # of each header line
TOO_MANY = "The server has too many open connections. Retry later."
ROUTE_PATHS = {path.encode(): path for path in (*ROUTES, "/metrics")}  # a bytes test costs ~0.6 us, a lookup 20 ns
KNOWN_NAMES = 256  # header names remembered lower-cased (most clients send the same few), at most


def _decoded(raw_headers: list[tuple[bytes, bytes]], names: dict[bytes, str]) -> list[tuple[str, str]]:
    """Headers as text, names lower-case; ``names``: the names already seen, lower-cased."""
    headers = []
    for raw, value in raw_headers:
        name = names.get(raw)
        if name is None:
            name = raw.decode("latin-1").lower()
            if len(names) < KNOWN_NAMES:
                names[raw] = name
        headers.append((name, value.decode("latin-1")))
    return headers


class Front:
    """What every connection shares: the app, the limits, the body budget and the open connections."""

    def __init__(self, app: ScoringApp, limits: ConnectionLimits, max_body_bytes: int, budget: BodyBudget) -> None:
        self.app = app
        self.limits = limits
        self.max_header_bytes = limits.max_header_bytes  # read for every request: as attributes, not the tuple's
        self.max_headers = limits.max_headers
        self.max_body_bytes = max_body_bytes
        self.budget = budget
        self.connections: set[Connection] = set()
        self.header_names: dict[bytes, str] = {}
        self.stopping = False
        self.warn_connections = RateLimitedWarning(
            "Connection refused: %d connections open, the limit (--max-connections)"
        )
        self.warn_slow_request = RateLimitedWarning("Connection closed: no complete request head or body within %g s")
        self.warn_large_head = RateLimitedWarning("Request refused with 431: a request head over %d bytes")
        self.warn_many_headers = RateLimitedWarning("Request refused with 431: %d headers, over the limit of %d")

    def connection(self) -> "Connection":
        return Connection(self)

    def close_idle(self) -> None:
        """Stopping: close every connection that is not answering a request; the others close after it."""
        self.stopping = True
        for connection in list(self.connections):
            connection.close_when_idle()


class Connection(asyncio.Protocol):
    def __init__(self, front: Front) -> None:
        self.front = front
        self.app = front.app
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.url = b""
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.parsing: Request | None = None  # the request whose body is arriving
        self.turns: deque[Request] = deque()  # parsed requests in order; the first is being answered when busy
        self.busy = False
        self.phase = WAITING
        self.since = 0.0
        self.head_bytes = 0  # bytes received since the head began (at least the head's size); 0: no head arriving
        self.fed = 0  # bytes of the chunks read whole since the last head was complete
        self.chunk = 0  # the size of the chunk being read: with ``fed``, at least the size of the next head
        self.paused = 0  # reasons to stop reading: a slow reader, requests far ahead, a refusal
        self.pipeline_full = False
        self.timer: asyncio.TimerHandle | None = None
        self.ended = False
        self.stream: StreamedReply | None = None  # the large answer being streamed to this client
        self.stream_body = True
        self.stream_kept = True

    # ---- connection events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        front = self.front
        if len(front.connections) >= front.limits.max_connections or front.stopping:
            front.warn_connections(len(front.connections))
            self.ended = True
            self.transport.write(wire.raw_answer(503, TOO_MANY))
            self.transport.close()
            return
        front.connections.add(self)
        self.since = self.loop.time()
        self.timer = self.loop.call_later(min(KEEP_ALIVE_S, front.limits.read_timeout_s), self._check_time)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.front.connections.discard(self)
        if self.stream is not None:  # the rest of the streamed answer is read and dropped: the worker goes on
            self.stream.channel.resume_reading()
        if self.timer is not None:
            self.timer.cancel()
        for index, turn in enumerate(self.turns):
            if turn.body is not None and not (index == 0 and self.busy):  # a worker's request is released on reply
                turn.body.release()
        if self.parsing is not None and self.parsing.body is not None:
            self.parsing.body.release()

    def eof_received(self) -> bool:
        """The client sent all it will: what it asked is answered, then the connection closes."""
        if self.turns:
            for turn in self.turns:
                turn.close = True
            return True
        return False

    def data_received(self, data: bytes) -> None:
        if self.ended or (self.turns and self.turns[-1].close):
            return  # a refusal ends this connection: nothing more is read
        size = self.chunk = len(data)
        if self.phase != BODY:
            self.head_bytes += size
        try:
            self.parser.feed_data(data)
            self.fed += size
        except httptools.HttpParserUpgrade:
            self._close_after_turns()  # no protocol switch here: the request is answered, then the connection ends
        except httptools.HttpParserError as error:
            if isinstance(error, httptools.HttpParserCallbackError):  # our code failed on this request
                logger.error("Request refused with 400 after an error in the front", exc_info=error.__context__)
            self._refuse_raw(400, INVALID)
            return
        parsing = self.parsing
        if parsing is not None and parsing.answer is not None:
            self._refuse_body(parsing)
        elif self.head_bytes:  # a head still arriving
            front = self.front
            if self.head_bytes > front.max_header_bytes or len(self.raw_headers) > front.max_headers:
                self._refuse_raw(431, self._head_refused())

    def pause_writing(self) -> None:
        self._pause()
        if self.stream is not None:  # the client reads slower than the worker sends: the worker waits
            self.stream.channel.pause_reading()

    def resume_writing(self) -> None:
        self._resume()
        if self.stream is not None:
            self.stream.channel.resume_reading()

    # ---- parser callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.raw_headers = []
        if self.phase == IDLE:  # the next request on a kept-alive connection: timed from now
            self.since = self.loop.time()
        self.phase = HEAD

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.phase = BODY
        self.since = self.loop.time()
        self.head_bytes = 0
        most = self.fed + self.chunk  # the head's size at most
        self.fed = 0
        front = self.front
        headers = _decoded(self.raw_headers, front.header_names)
        header_map = dict(headers)
        url = self.url
        path = ROUTE_PATHS.get(url)
        if path is not None:  # most requests
            query = ""
        elif url[:1] == b"/" and b"?" not in url and b"%" not in url and b"#" not in url:  # a plain path
            path, query = url.decode("latin-1"), ""
        else:
            parts = httptools.parse_url(url)
            path = parts.path.decode("latin-1")
            if "%" in path:
                path = unquote(path, encoding="latin-1")
            query = parts.query.decode("latin-1") if parts.query else ""
        keep_alive = parser.should_keep_alive()  # an HTTP/1.0 request is not kept alive, even when it asks to be:
        if keep_alive and "connection" in header_map:  # only a Connection header can make it true for one (the version
            keep_alive = parser.get_http_version() != "1.0"  # costs 0.4 us: most requests do without)
        method = parser.get_method().decode("latin-1")
        request = self.parsing = Request(method, path, query, headers, header_map, keep_alive, self._settled)
        limit = front.max_header_bytes
        if len(headers) > front.max_headers or (most > limit and self._head_size() > limit):
            request.answer = error_answer(431, self._head_refused(), "Connection: close\r\n")
            request.close = True
            return
        request.answer = self.app.admit(request)
        if request.answer is None:
            length = header_map.get("content-length")
            declared = int(length) if length is not None and length.isdigit() else None
            try:
                request.body = BodyBuffer(declared, front.max_body_bytes, front.budget)
            except BodyRefused as refused:
                request.answer = refused.answer
            else:
                if not self.turns and header_map.get("expect", "").lower() == "100-continue":
                    self.transport.write(wire.CONTINUE)

    def _head_size(self) -> int:
        """The size of the request head as sent (without spaces around header values, which are not kept)."""
        size = len(self.parser.get_method()) + len(self.url) + HEAD_FRAMING
        return size + sum(len(name) + len(value) + LINE_FRAMING for name, value in self.raw_headers)

    def _head_refused(self) -> str:
        """A request head is refused with 431 (logged): why, for its answer. What was kept of it is let go of at
        once: the connection ends, but it and its parser refer to each other, so only the garbage collector frees
        them."""
        front = self.front
        count = len(self.raw_headers)
        self.raw_headers = []
        self.url = b""
        if count > front.max_headers:
            front.warn_many_headers(count, front.max_headers)
            return TOO_MANY_HEADERS.format(count=count, limit=front.max_headers)
        front.warn_large_head(front.max_header_bytes)
        return HEAD_TOO_LARGE.format(limit=front.max_header_bytes)

    def on_body(self, body: bytes) -> None:
        turn = self.parsing
        if turn is None or turn.body is None:
            return  # a refused request's body: not kept
        try:
            turn.body.add(body)
        except BodyRefused as refused:
            turn.body.release()
            turn.body = None
            turn.answer = refused.answer

    def on_message_complete(self) -> None:
        turn, self.parsing = self.parsing, None
        self.phase = IDLE
        self.since = self.loop.time()
        if turn is not None:
            self._queue(turn)

    # ---- answering, in order

    def _queue(self, turn: Request) -> None:
        self.turns.append(turn)
        if len(self.turns) > MAX_PIPELINED and not self.pipeline_full:
            self.pipeline_full = True
            self._pause()
        if not self.busy:
            self._next()

    def _next(self) -> None:
        """Answer the requests in line: those decided already at once, a scoring one when its worker replies."""
        while self.turns and not self.busy and not self.ended:
            turn = self.turns[0]
            if turn.raw:
                self.transport.write(turn.raw)
                self._end()
                return
            if turn.answer is not None:
                if self._write(self.turns.popleft(), turn.answer):
                    self._kept()
                continue
            self.busy = True
            self.app.score(turn, turn.body.data() if turn.body is not None else b"")

    def _settled(self, reply: Any, error: Exception | None) -> None:
        """The worker's reply to the first request in line (or why there is none)."""
        if isinstance(reply, StreamedReply):
            self._stream_head(reply)
            return
        self.busy = False
        if self._write(self.turns.popleft(), self.app.answer(reply, error)):
            self._kept()
            if self.turns:
                self._next()

    def _write(self, request: Request, answer: Answer, streamed: StreamedReply | None = None) -> bool:
        """Write one answer (unless the client left); True when the connection is kept, else it is ended. Of a
        streamed answer only the head is written: the body follows, and the connection is kept or ended after."""
        if request.body is not None:
            request.body.release()
            request.body = None
        status, headers, payload = answer
        lines = self.app.complete(request, status, len(payload))
        if self.ended:
            return False
        keep_alive = request.keep_alive and not request.close and not self.front.stopping
        head_only = request.method == "HEAD" or streamed is not None
        length = None if streamed is None else streamed.size
        self.transport.writelines(wire.answer_parts(status, headers, payload, keep_alive, head_only, length, lines))
        if not keep_alive and streamed is None:
            self._end()
        return keep_alive

    def _kept(self) -> None:
        """An answer was written and the connection stays: the keep-alive time starts when nothing is left."""
        if not self.turns and self.phase == IDLE:
            self.since = self.loop.time()
        if self.pipeline_full and len(self.turns) <= MAX_PIPELINED // 2:
            self.pipeline_full = False
            self._resume()

    # ---- a large answer, streamed from the worker as it comes (``Channel``)

    def _stream_head(self, reply: StreamedReply) -> None:
        turn = self.turns[0]
        self.stream, reply.sink = reply, self
        self.stream_body = turn.method != "HEAD"
        self.stream_kept = self._write(turn, self.app.answer((reply.status, reply.headers, reply, reply.exec_ms), None),
                                       streamed=reply)  # fmt: skip
        turn.message = None  # its body, released from the budget: not held while the answer streams

    def stream_chunk(self, chunk: bytes) -> None:
        if self.stream_body and not self.ended:
            self.transport.write(chunk)

    def stream_end(self) -> None:
        self.stream = None
        self.busy = False
        self.turns.popleft()
        if self.ended:
            return
        if not self.stream_kept:
            self._end()
            return
        self._kept()
        self._next()

    def stream_abort(self) -> None:
        """The worker died while sending: the client has part of the body, so its connection is cut."""
        self.stream = None
        if not self.ended:
            self.ended = True
            self.front.connections.discard(self)
            self.transport.abort()

    # ---- refusals and the end of a connection

    def _refuse_body(self, turn: Request) -> None:
        """A refused request whose body is still arriving: answered in its turn, unread, then the end."""
        self.parsing = None
        turn.close = True
        self._pause()
        self._queue(turn)

    def _refuse_raw(self, status: int, message: str) -> None:
        if self.parsing is not None and self.parsing.body is not None:
            self.parsing.body.release()
        self.parsing = None
        self._pause()
        self._queue(Request.unparsed(wire.raw_answer(status, message)))

    def _close_after_turns(self) -> None:
        if self.turns:
            self.turns[-1].close = True
        else:
            self._end()

    def _end(self) -> None:
        self.ended = True
        self.front.connections.discard(self)
        self.transport.close()

    def close_when_idle(self) -> None:
        if not self.busy and not self.turns:
            self._end()

    # ---- reading paused and resumed

    def _pause(self) -> None:
        self.paused += 1
        if self.paused == 1 and not self.ended:
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.paused > 0:
            self.paused -= 1
            if self.paused == 0 and not self.ended:
                self.transport.resume_reading()

    # ---- one timer per connection

    def _check_time(self) -> None:
        """Fires when the current phase may have run out of time, and at least every ``KEEP_ALIVE_S`` (a head or a
        body may arrive, its answer go, and the connection fall idle in between); otherwise sets itself again."""
        if self.ended:
            return
        limits = self.front.limits
        if self.busy or self.turns:  # answering: the scoring timeout limits that
            self.timer = self.loop.call_later(min(KEEP_ALIVE_S, limits.read_timeout_s), self._check_time)
            return
        allowed = KEEP_ALIVE_S if self.phase == IDLE else limits.read_timeout_s
        remaining = self.since + allowed - self.loop.time()
        if remaining > 0:  # looked at again within the keep-alive time: the phase may change meanwhile
            self.timer = self.loop.call_later(min(remaining, KEEP_ALIVE_S), self._check_time)
            return
        if self.phase == IDLE:
            self._end()
            return
        self.front.warn_slow_request(limits.read_timeout_s)
        if self.phase == WAITING and not self.head_bytes:
            self._end()
        elif self.phase == BODY:
            self._refuse_raw(408, f"The request body did not arrive within {limits.read_timeout_s:g} s. "
                                  "Send it faster or smaller.")  # fmt: skip
        else:
            self._refuse_raw(408, f"The request head did not arrive within {limits.read_timeout_s:g} s.")
