"""The HTTP layer: a bare ASGI callable served by uvicorn with the httptools parser on uvloop.

No web framework on the hot path: the ASGI adapter checks the size of the request head and hands method,
path, query, headers and a body reader to ``ScoringApp.handle``, which reads the body only once the
request is admitted (route, key, limits). Connection limits live in ``connections``.
"""

import socket

import uvicorn

from .app import ScoringApp, error_answer
from .bodies import BodyBudget, BodyReader, RateLimitedWarning
from .config import ServerConfig
from .connections import ConnectionLimits, guarded_protocol

HEAD_TOO_LARGE = "The request line and headers are over {limit} bytes."


def _start(status: int, headers: list[tuple[str, str]], length: int) -> dict[str, object]:
    encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    encoded.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": status, "headers": encoded}


class AsgiAdapter:
    def __init__(self, app: ScoringApp, config: ServerConfig) -> None:
        self.app = app
        self.max_body_bytes = config.max_body_bytes
        self.max_header_bytes = config.max_header_bytes
        self.budget = BodyBudget(config.max_buffered_bytes)
        self.warn_large_head = RateLimitedWarning("Request refused with 431: request line and headers over %d bytes")

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        raw_headers = scope["headers"]
        head_size = len(scope["raw_path"]) + len(scope["query_string"])
        declared = None
        for name, value in raw_headers:
            head_size += len(name) + len(value)
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
        if head_size > self.max_header_bytes:
            self.warn_large_head(self.max_header_bytes)
            status, out, payload = error_answer(431, HEAD_TOO_LARGE.format(limit=self.max_header_bytes))
            out.append(("Connection", "close"))
        else:
            headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers]
            query = scope["query_string"].decode("latin-1")
            body = BodyReader(receive, declared, self.max_body_bytes, self.budget)
            try:
                status, out, payload = await self.app.handle(scope["method"], scope["path"], query, headers, body)
            finally:
                body.release()
        await send(_start(status, out, len(payload)))
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else payload})


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


def make_server(adapter: AsgiAdapter, limits: ConnectionLimits, grace_s: float) -> uvicorn.Server:
    """The uvicorn server; on SIGTERM it stops accepting and gives requests in flight ``grace_s`` to finish."""
    config = uvicorn.Config(
        adapter,
        http=guarded_protocol(limits),
        loop="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=max(1, round(grace_s)),
    )
    return uvicorn.Server(config)
