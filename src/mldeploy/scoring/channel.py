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
        self._streaming = 0  # bytes of the reply being streamed still to come
        self.on_message: Callable[[Any], None] = lambda message: None
        self.on_stream_start: Callable[[Any], None] = lambda head: None
        self.on_stream_chunk: Callable[[bytes], None] = lambda chunk: None
        self.on_stream_end: Callable[[], None] = lambda: None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def expect_replies(self) -> None:
        self._replies = True

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        if self._streaming and not buffer:
            data = self._stream(data)
        buffer += data
        while len(buffer) >= protocol.HEADER_SIZE:
            (size,) = protocol.HEADER.unpack_from(buffer)
            end = protocol.HEADER_SIZE + size
            if len(buffer) < end:
                return
            message = protocol.decode(bytes(buffer[protocol.HEADER_SIZE : end]))
            if not self._replies:
                del buffer[:end]
                self.on_message(message)
                continue
            status, headers, exec_ms, body_size = message
            if len(buffer) >= end + body_size:
                body = bytes(buffer[end : end + body_size])
                del buffer[: end + body_size]
                self.on_message((status, headers, body, exec_ms))
            elif body_size >= STREAM_FROM:
                rest = bytes(buffer[end:])
                del buffer[:]
                self._streaming = body_size
                self.on_stream_start(message)
                buffer += self._stream(rest)
            else:
                return

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
