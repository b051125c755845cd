"""Who may use the console: whoever holds its token (as Jupyter does), through a loopback host name only.

The URL printed at start carries ``?token=...``; a page opened with it in a browser sets an HttpOnly, SameSite=Strict
cookie and drops the token from the address bar. Every page, action, stream and static file needs the token
(query, cookie or ``Authorization: token ...``): 401 without it. A ``Host`` header other than 127.0.0.1 or
localhost is refused (403), so a web page on another site cannot reach the console by DNS rebinding.
"""

import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "mldeploy_console_token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
NO_TOKEN = (
    "This mldeploy console needs its access token: open the URL that `mldeploy ui` printed (it ends with "
    "?token=...), or start it again to get a new one."
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenGate:
    """ASGI middleware: the request goes on only with the console's token and a loopback ``Host``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "").rsplit(":", 1)[0]
        if host not in LOOPBACK_HOSTS:
            refused = PlainTextResponse(f"Host {host!r} refused: open the console at 127.0.0.1.", status_code=403)
            await refused(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        if self._matches(query.get("token")):
            navigation = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
            await (self._remember(scope, query) if navigation else self.app)(scope, receive, send)
            return
        cookies = SimpleCookie(headers.get("cookie", ""))
        cookie = cookies[COOKIE].value if COOKIE in cookies else None
        header = headers.get("authorization", "").removeprefix("token ").strip() or None
        if self._matches(cookie) or self._matches(header):
            await self.app(scope, receive, send)
            return
        await PlainTextResponse(NO_TOKEN, status_code=401)(scope, receive, send)

    def _remember(self, scope: Scope, query: dict[str, str]) -> Response:
        """The same address without the token, with the token kept in a cookie."""
        rest = urlencode({key: value for key, value in query.items() if key != "token"})
        response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response
