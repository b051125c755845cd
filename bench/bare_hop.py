"""The floor of our design: a front process and a worker process, each doing the least they can. The front is
bare_httptools.py's protocol that hands each request's body to the worker over a Unix socket pair (a 4-byte
length, the bytes; the requests of one loop turn in one write) and answers with what the worker sends back;
the worker echoes each body. No routing, ids, limits, metrics, log, queue or timeouts.
``python bench/bare_hop.py PORT``."""

import asyncio
import os
import socket
import struct
import sys
from collections import deque

import uvloop

from bare_httptools import Parsed

LENGTH = struct.Struct("!I")
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(1 << 16)
    except ConnectionResetError:
        return b""


def echo_worker(sock: socket.socket) -> None:
    """Read frames, write each body back as a frame: blocking, one process, until the front is gone."""
    pending = b""
    while chunk := _receive(sock):
        pending += chunk
        replies, position = [], 0
        while len(pending) - position >= LENGTH.size:
            (size,) = LENGTH.unpack_from(pending, position)
            end = position + LENGTH.size + size
            if len(pending) < end:
                break
            replies.append(pending[position:end])
            position = end
        pending = pending[position:]
        sock.sendall(b"".join(replies))


class WorkerLink(asyncio.Protocol):
    """The front's end of the socket pair: requests out in one write per loop turn, answers in order."""

    def __init__(self) -> None:
        self.waiting: deque[asyncio.Transport] = deque()
        self.pending: list[bytes] = []
        self.buffer = b""
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def send(self, client: asyncio.Transport, body: bytes) -> None:
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(LENGTH.pack(len(body)) + body)
        self.waiting.append(client)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if not self.transport.is_closing():
            self.transport.writelines(pending)

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data if self.buffer else data
        position = 0
        while len(data) - position >= LENGTH.size:
            (size,) = LENGTH.unpack_from(data, position)
            end = position + LENGTH.size + size
            if len(data) < end:
                break
            body = data[position + LENGTH.size : end]
            client = self.waiting.popleft()
            if not client.is_closing():
                client.write(HEAD % len(body) + body)
            position = end
        self.buffer = data[position:]


class Forward(Parsed):
    def __init__(self, link: WorkerLink) -> None:
        self.link = link
        self.body = b""

    def on_message_begin(self) -> None:
        self.body = b""

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.link.send(self.transport, self.body)


async def serve(port: int, front_end: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    _, link = await loop.create_unix_connection(WorkerLink, sock=front_end)
    server = await loop.create_server(lambda: Forward(link), "127.0.0.1", port, backlog=2048)
    await server.serve_forever()


if __name__ == "__main__":
    front_end, worker_end = socket.socketpair()
    if os.fork() == 0:
        front_end.close()
        echo_worker(worker_end)
        os._exit(0)
    worker_end.close()
    uvloop.run(serve(int(sys.argv[1]), front_end))
