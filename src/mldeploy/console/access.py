"""Who may use the console, and from which page: whoever holds its token (as Jupyter does), from the console's
own origin, through a loopback host name only.

- **No cookie.** Browsers send a host's cookies to every port of it, so a cookie would reach every local server,
  users' scoring services included. The token travels in the address the user opens (``?token=...``, printed by
  ``mldeploy ui``); the console's script keeps it in the browser's storage of the console's origin (scheme, host
  and port: no other port can read it), drops it from the address bar and sends it as ``Authorization: token
  ...`` with every request the page makes. A page opened without it (a reload, a new tab) is answered 401 with a
  small page whose script reopens it with the token kept, when there is one.
- **Reading** (GET, HEAD) takes the token from the header or the query (the log stream cannot send headers).
- **Acting** (any other method) takes it from the header only, which no page of another origin can read or make
  a browser send, and refuses (403) a browser request whose ``Origin`` or ``Sec-Fetch-Site`` names another
  origin than the console's.
- **Host**: a ``Host`` other than 127.0.0.1 or localhost with the console's port is refused (403), so a web page
  on another site cannot reach the console by DNS rebinding.
- The console's own scripts and styles (``/static/``, the same files as in the package) need no token.
- Every answer forbids framing (no clickjacking of the actions) and sending the address as a referrer.
"""

import hmac
import secrets
from html import escape
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
READING = ("GET", "HEAD")
STATIC = "/static/"
NO_TOKEN = (
    "This mldeploy console needs its access token: open the URL that `mldeploy ui` printed (it ends with "
    "?token=...), or start it again to get a new one."
)
FOREIGN_PAGE = (
    "Refused: this action was sent by another page than the console's own ({origin}). Use the console at {own}."
)
TOKEN_IN_HEADER = "Actions take the console's token in the Authorization header (`Authorization: token ...`)."
REOPENING_PAGE = """<!doctype html>
<html lang="en" data-access="refused">
<head><meta charset="utf-8"><title>Access token needed · mldeploy console</title>
<script src="/static/access.js"></script></head>
<body><p>{message}</p></body>
</html>
"""
SAFETY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenGate:
    """ASGI middleware: the request goes on only with the console's token, a loopback ``Host`` naming the
    console's port and, for an action, from the console's own origin."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_safely(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SAFETY_HEADERS]
            await send(message)

        refusal = self._refusal(scope, Headers(scope=scope))
        await (self.app if refusal is None else refusal)(scope, receive, send_safely)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        """Why this request may not go on, as the answer to give; None when it may."""
        host = headers.get("host", "")
        if host not in _own_hosts(scope):
            name = host.rsplit(":", 1)[0]
            return PlainTextResponse(f"Host {name!r} refused: open the console at 127.0.0.1.", status_code=403)
        reading = scope["method"] in READING
        if reading and scope["path"].startswith(STATIC):
            return None
        if not reading:
            origin, site = headers.get("origin"), headers.get("sec-fetch-site")
            own = f"http://{host}"
            if (origin is not None and origin != own) or (site is not None and site != "same-origin"):
                return PlainTextResponse(FOREIGN_PAGE.format(origin=origin or site, own=own), status_code=403)
        given = headers.get("authorization", "").removeprefix("token ").strip() or None
        if given is None and reading:
            given = dict(parse_qsl(scope.get("query_string", b"").decode())).get("token")
        if self._matches(given):
            return None
        if reading and "text/html" in headers.get("accept", ""):
            return HTMLResponse(REOPENING_PAGE.format(message=escape(NO_TOKEN)), status_code=401)
        return PlainTextResponse(NO_TOKEN if reading else f"{NO_TOKEN} {TOKEN_IN_HEADER}", status_code=401)


def _own_hosts(scope: Scope) -> tuple[str, ...]:
    """The ``Host`` values that name this console: a loopback name with the port it listens on."""
    port = scope["server"][1] if scope.get("server") else 80
    hosts = tuple(f"{name}:{port}" for name in LOOPBACK_HOSTS)
    return (*hosts, *LOOPBACK_HOSTS) if port == 80 else hosts
