"""The front's end of the socket pair to one worker: frames in, frames out."""

import asyncio
from collections.abc import Callable
from typing import Any

from . import protocol

LARGE_BODY = 1 << 20
Request = tuple[str, str, str, list[tuple[str, str]], bytes | bytearray]


class Channel(asyncio.Protocol):
    """The front's end of the socket pair to one worker: decodes frames and hands them to ``on_message``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self.on_message: Callable[[Any], None] = lambda message: None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

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
        """One request: its frame, then its body as it is (a large body is handed over, never copied)."""
        if self._transport is not None and not self._transport.is_closing():
            method, path, query, headers, body = request
            head = protocol.request_head(method, path, query, headers, len(body))
            if len(body) < LARGE_BODY:
                self._transport.write(head + body)  # one write: one system call
            else:
                self._transport.write(head)
                self._transport.write(body)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
