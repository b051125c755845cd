"""The HTTP layer: the listening socket, the front's connections on it (``front``), and a graceful stop.

httptools parses; the connections are plain asyncio protocols on uvloop. No ASGI server or web framework
on the hot path: their per-request task and event dictionaries cost more than everything else the front
does (measured in docs/scoring-server.md).
"""

import asyncio
import logging
import socket

from .front import Front

STOP_POLL_S = 0.05

logger = logging.getLogger("mldeploy.server")


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so that a taken port is reported in plain words."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(
            error.errno,
            f"Cannot listen on {host}:{port}: {error.strerror}. Another process may be using the port; "
            f"choose another with --port, or stop that process (e.g. `ss -ltnp 'sport = :{port}'`).",
        ) from None
    sock.listen(2048)
    return sock


class HttpServer:
    """Serves the front's connections on ``listener`` until ``stop``."""

    def __init__(self, front: Front, listener: socket.socket) -> None:
        self.front = front
        self.listener = listener
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.front.connection, sock=self.listener, backlog=2048)

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, close idle connections, give requests being answered ``grace_s`` to finish,
        then close what is left."""
        if self._server is not None:
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
