"""The HTTP layer: a bare ASGI callable served by uvicorn with the httptools parser on uvloop.

No web framework on the hot path: the ASGI adapter reads the body (413 past the limit) and hands
method, path, query, headers and body to ``ScoringApp.handle``.
"""

import socket

import uvicorn

from .app import ScoringApp, error_answer

TOO_LARGE = "The request body is larger than the limit of {limit} bytes. Send less data per request."


def _start(status: int, headers: list[tuple[str, str]], length: int) -> dict[str, object]:
    encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    encoded.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": status, "headers": encoded}


class AsgiAdapter:
    def __init__(self, app: ScoringApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def _body(self, receive, declared: int | None) -> bytes | None:  # type: ignore[no-untyped-def]
        """The whole body, or None when it is over the limit."""
        if declared is not None and declared > self.max_body_bytes:
            return None
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= self.max_body_bytes else None
        chunks = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        declared = next((value for name, value in headers if name == "content-length"), None)
        try:
            declared_size = int(declared) if declared is not None else None
        except ValueError:
            declared_size = None
        body = await self._body(receive, declared_size)
        if body is None:
            status, out, payload = error_answer(413, TOO_LARGE.format(limit=self.max_body_bytes))
            out = [*out, ("Connection", "close")]
        else:
            query = scope["query_string"].decode("latin-1")
            status, out, payload = await self.app.handle(scope["method"], scope["path"], query, headers, body)
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


def make_server(adapter: AsgiAdapter) -> uvicorn.Server:
    config = uvicorn.Config(
        adapter,
        http="httptools",
        loop="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)
