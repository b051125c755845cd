"""The HTTP layer: the listening socket, the front's connections on it (``front``), and a graceful stop.

httptools parses; the connections are plain asyncio protocols on uvloop. No ASGI server or web framework
on the hot path: their per-request task and event dictionaries cost more than everything else the front
does (measured in docs/scoring-server.md).
"""

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from . import reuseport
from .front import WAITING, Front

STOP_POLL_S = 0.05
BACKLOG = 2048
HANDOVER_WAIT_S = 1.0  # a shared port: longest wait for the accept queue, then for just accepted requests
HANDOVER_POLL_S = 0.01

logger = logging.getLogger("mldeploy.server")


def bind(host: str, port: int, shared: bool = False) -> tuple[socket.socket, bool]:
    """Bind the listening socket ourselves, so that a taken port is reported in plain words; and whether this
    server takes the port over from another. ``shared``: with SO_REUSEPORT (another server of this user that sets
    it too may listen on the port: ``reuseport``), and not listening yet (``HttpServer.start`` listens)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        taking_over = shared and reuseport.taking_over(host, port)
    except OSError as error:
        sock.close()
        raise OSError(
            error.errno,
            f"Cannot listen on {host}:{port}: {error.strerror}. Another process may be using the port; "
            f"choose another with --port, or stop that process (e.g. `ss -ltnp 'sport = :{port}'`).",
        ) from None
    if not shared:
        sock.listen(BACKLOG)
    return sock, taking_over


class HttpServer:
    """Serves the front's connections on ``listener`` until ``stop``; ``shared``: a port shared with another
    server, which a stop hands over without resetting a connection."""

    def __init__(self, front: Front, listener: socket.socket, shared: bool = False) -> None:
        self.front = front
        self.listener = listener
        self.shared = shared
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.front.connection, sock=self.listener, backlog=BACKLOG)

    def steer_here(self, host: str, port: int) -> int:
        """Send every new connection on the shared port here; this listener's index in the port's group."""
        assert self._server is not None
        listener: Any = self._server.sockets[0]
        return reuseport.steer_here(listener, host, port)

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, close idle connections, give requests being answered ``grace_s`` to finish,
        then close what is left."""
        if self._server is not None and self.shared:
            await self._hand_over(self._server)
        elif self._server is not None:
            self._server.close()
        self.front.close_idle()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        if self.front.connections:
            logger.info("Stopping: waiting up to %g s for %d connection(s) to be answered", grace_s,
                        len(self.front.connections))  # fmt: skip
        while self.front.connections and loop.time() < deadline:
            await asyncio.sleep(STOP_POLL_S)
        for connection in list(self.front.connections):
            connection.transport.close()

    async def _hand_over(self, server: asyncio.AbstractServer) -> None:
        """Close a shared listener without resetting a connection. The kernel resets what a closed listener
        still holds in its accept queue, so keep accepting until the queue is empty (the server taking over
        gets every new connection by then), then let the connections just accepted send their request (a
        connection with nothing to answer yet is closed as idle)."""
        listener: Any = server.sockets[0]
        await _until(lambda: reuseport.queued(listener) == 0)
        server.close()
        await _until(lambda: all(connection.phase != WAITING for connection in self.front.connections))


async def _until(done: Callable[[], bool]) -> None:
    """Serve on until ``done``, for at most HANDOVER_WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANDOVER_WAIT_S
    while not done() and loop.time() < deadline:
        await asyncio.sleep(HANDOVER_POLL_S)
