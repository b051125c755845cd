"""CORS (AML_CORS_ORIGINS) answered as the reference answers it, checked against the reference itself."""

import httpx
import pytest

from tests.conftest import Servers

pytestmark = [pytest.mark.reference, pytest.mark.slow]

CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers", "vary")
REQUESTS = [
    ("POST", "/score", {"Origin": "http://a.example"}),
    ("POST", "/score", {"Origin": "HTTP://B.EXAMPLE"}),
    ("POST", "/score", {"Origin": "http://evil.example"}),
    ("POST", "/score", {}),
    ("GET", "/", {"Origin": "http://a.example"}),
    ("OPTIONS", "/score", {"Origin": "http://a.example", "Access-Control-Request-Method": "POST",
                           "Access-Control-Request-Headers": "X-Custom, Content-Type"}),
    ("OPTIONS", "/score", {"Origin": "http://a.example", "Access-Control-Request-Method": "DELETE"}),
]  # fmt: skip


@pytest.mark.parametrize("origins", ["http://a.example, http://b.example", "*", "http://a.example"])
def test_cors_headers_match_the_reference(origins: str, servers: Servers) -> None:
    env = {"AML_CORS_ORIGINS": origins}
    pair = (servers.ours("echo.py", env=env), servers.reference("echo.py", env=env))
    for method, path, headers in REQUESTS:
        mine, theirs = (httpx.request(method, s.url + path, headers=headers, content=b"x") for s in pair)
        assert mine.status_code == theirs.status_code, (method, path, headers)
        for name in CORS_HEADERS:
            assert mine.headers.get_list(name) == theirs.headers.get_list(name), (origins, method, headers, name)
