"""CORS as the reference server enables it (``AML_CORS_ORIGINS``, Flask-CORS on GET and POST).

- A request whose ``Origin`` matches an allowed origin (case-insensitive; ``*`` matches any) gets
  ``Access-Control-Allow-Origin: <that origin>``; one that does not match gets no CORS header.
- A request without ``Origin`` gets ``*`` when any origin is allowed, else the first allowed origin.
- A preflight (OPTIONS with ``Access-Control-Request-Method: GET|POST``) also gets the allowed methods
  and the requested headers.
- ``Vary: Origin`` when the answer depends on the origin.
"""

import re

METHODS = "GET, POST"


class Cors:
    def __init__(self, origins: str) -> None:
        self.origins = [origin.strip() for origin in origins.split(",") if origin.strip()]
        self.wildcard = "*" in self.origins
        self.patterns = [re.compile(".*" if o == "*" else o if _regex(o) else re.escape(o), re.I) for o in self.origins]

    def _allowed(self, origin: str | None) -> list[str]:
        if origin is None:  # Flask-CORS sends only the first of the sorted literal origins
            literal = sorted(o for o in self.origins if not _regex(o))
            return ["*"] if self.wildcard else literal[:1]
        return [origin] if any(pattern.fullmatch(origin) for pattern in self.patterns) else []

    def headers(self, method: str, request: dict[str, str]) -> list[tuple[str, str]]:
        """CORS headers for an answer to ``method`` with these (lower-case) request headers."""
        allowed = self._allowed(request.get("origin"))
        if not allowed:
            return []
        out = [("Access-Control-Allow-Origin", origin) for origin in allowed]
        wanted = request.get("access-control-request-method", "").upper()
        if method == "OPTIONS" and wanted in ("GET", "POST"):
            asked = request.get("access-control-request-headers")
            if asked:
                out.append(("Access-Control-Allow-Headers", ", ".join(sorted(h.strip() for h in asked.split(",")))))
            out.append(("Access-Control-Allow-Methods", METHODS))
        if allowed != ["*"] and (len(self.origins) > 1 or len(allowed) > 1 or any(map(_regex, self.origins))):
            out.append(("Vary", "Origin"))
        return out


def _regex(origin: str) -> bool:
    """Flask-CORS reads an origin holding regular-expression characters (``*`` too) as a pattern."""
    return any(char in origin for char in "*\\]?$^[]()")
