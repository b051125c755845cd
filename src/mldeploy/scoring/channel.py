"""The front's end of the socket pair to one worker: frames in, frames out."""

import asyncio
from collections.abc import Callable
from typing import Any

from . import protocol

Request = tuple[str, str, str, list[tuple[str, str]], bytes | bytearray]


class Channel(asyncio.Protocol):
    """The front's end of the socket pair to one worker: decodes frames and hands them to ``on_message``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending: list[bytes | bytearray] = []
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self.on_message: Callable[[Any], None] = lambda message: None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= protocol.HEADER_SIZE:
            (size,) = protocol.HEADER.unpack_from(buffer)
            end = protocol.HEADER_SIZE + size
            if len(buffer) < end:
                return
            message = protocol.decode(bytes(buffer[protocol.HEADER_SIZE : end]))
            del buffer[:end]
            self.on_message(message)

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
