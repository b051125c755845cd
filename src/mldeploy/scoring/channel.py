"""The front's end of the socket pair to one worker: frames in, frames out."""

import asyncio
from collections.abc import Callable
from typing import Any

from . import protocol

Request = tuple[str, str, str, list[tuple[str, str]], bytes | bytearray]
STREAM_FROM = 1 << 20  # a reply body this large is streamed to the client, not gathered first


class Channel(asyncio.Protocol):
    """The front's end of the socket pair to one worker.

    Until the worker is ready, each frame is a message for ``on_message``. Then (``expect_replies``) each frame
    is a reply's head followed by its body: a reply whose body has arrived goes to ``on_message`` whole as
    ``(status, headers, body, exec_ms)``; a larger one (``STREAM_FROM``) goes out as it arrives:
    ``on_stream_start((status, headers, exec_ms, size))``, ``on_stream_chunk(bytes)`` for each piece, then
    ``on_stream_end()``; the front never holds it whole."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending: list[bytes | bytearray] = []
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._replies = False
        self._headers = protocol.HEADERS_ALL  # which request headers the worker's run() can read
        self._streaming = 0  # bytes of the reply being streamed still to come
        self.on_message: Callable[[Any], None] = lambda message: None
        self.on_stream_start: Callable[[Any], None] = lambda head: None
        self.on_stream_chunk: Callable[[bytes], None] = lambda chunk: None
        self.on_stream_end: Callable[[], None] = lambda: None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def expect_replies(self, headers: str) -> None:
        """The worker is ready: frames are replies from now on; ``headers``: the request headers it reads."""
        self._replies = True
        self._headers = headers

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        if self._streaming and not buffer:
            data = self._stream(data)
        if buffer:
            buffer += data
            del buffer[: self._frames(buffer)]
        else:  # the usual case: whole frames, read from ``data`` without gathering it first
            buffer += data[self._frames(data) :]
        if self._streaming and buffer:  # a streamed reply began: what followed its head is its body
            rest = bytes(buffer)
            buffer.clear()
            self.data_received(rest)

    def _frames(self, source: bytes | bytearray) -> int:
        """Hand on the frames at the start of ``source`` that have arrived whole (up to the head of a reply to
        stream); how many bytes they took."""
        position, available = 0, len(source)
        while available - position >= protocol.HEADER_SIZE:
            (size,) = protocol.HEADER.unpack_from(source, position)
            end = position + protocol.HEADER_SIZE + size
            if available < end:
                break
            message = protocol.decode(source[position + protocol.HEADER_SIZE : end])
            if not self._replies:
                position = end
                self.on_message(message)
                continue
            status, headers, exec_ms, body_size = message
            if available >= end + body_size:
                position = end + body_size
                self.on_message((status, headers, bytes(source[end:position]), exec_ms))
            elif body_size >= STREAM_FROM:
                self._streaming = body_size
                self.on_stream_start(message)
                return end
            else:
                break
        return position

    def _stream(self, data: bytes) -> bytes:
        """Hand on what of ``data`` belongs to the reply being streamed; the rest (the next frames)."""
        piece = data[: self._streaming]
        self._streaming -= len(piece)
        if piece:
            self.on_stream_chunk(piece)
        if not self._streaming:
            self.on_stream_end()
        return data[len(piece) :]

    def pause_reading(self) -> None:
        """The client of the reply being streamed reads slower than the worker writes: the worker waits."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, message: Any) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(protocol.encode(message))

    def send_request(self, request: Request) -> None:
        """One request: its frame, then its body as it is (a large body is handed over, never copied).

        The requests given in one turn of the event loop are written together at its end: one system call,
        and one wake-up of the worker, for all of them."""
        method, path, query, headers, body = request
        if self._headers == protocol.HEADERS_NONE:  # the frame is encoded faster without them (1.1 -> 0.4 us)
            headers = []
        elif self._headers == protocol.HEADERS_CONTENT_TYPE:
            headers = [header for header in headers if header[0] == "content-type"]
        pending = self._pending
        if not pending:
            self._loop.call_soon(self._flush)
        pending.append(protocol.request_head(method, path, query, headers, len(body)))
        pending.append(body)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if self._transport is not None and not self._transport.is_closing():
            self._transport.writelines(pending)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
