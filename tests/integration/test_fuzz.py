"""10,000 random and malformed requests (among them JSON nested 6,000 deep, integers of 6,000 digits, long
queries): the server never crashes, no request ends its worker, and it never blames itself (5xx) for a
client's mistake."""

import socket
import string

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Servers

pytestmark = pytest.mark.slow

EXAMPLES_PER_SCRIPT = 5000
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
depth = st.integers(min_value=1, max_value=6000)
deep_json = st.one_of(
    depth.map(lambda n: "[" * n + "]" * n),
    depth.map(lambda n: "[" * n),
    depth.map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),
)
bodies = st.one_of(
    deep_json.map(str.encode),
    deep_json.map(lambda document: f'{{"data": {document}}}'.encode()),
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda value: httpx.Request("POST", "/", json=value).content),
    st.dictionaries(st.sampled_from(["data", "other", "x"]), json_values, max_size=3).map(
        lambda value: httpx.Request("POST", "/", json=value).content
    ),
)
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
        "path": st.sampled_from(["/score", "/score", "/score", "/", "/swagger.json", "/metrics", "/x", "/score/"]),
        "body": bodies,
        "content_type": st.sampled_from(["application/json", "text/plain", "application/x+json", "", "a/b; c=d"]),
        "headers": st.dictionaries(
            st.text(TOKEN, min_size=1, max_size=20).filter(lambda name: name.lower() not in {"content-length", "host"}),
            st.text(string.printable.strip() + " ", max_size=150).map(str.strip),
            max_size=4,
        ),
        "query": st.one_of(
            st.text(string.ascii_letters + string.digits + "=&[]%,.", max_size=40),
            deep_json.map(lambda document: f"a={document}"),
        ),
    }
)
CLIENT_MISTAKES = {200, 400, 404, 405, 413, 415, 431}


@pytest.mark.parametrize("script", ["echo.py", "schema_numpy.py"])
def test_random_requests_never_crash_the_server(script: str, servers: Servers) -> None:
    server = servers.ours(script)
    client = httpx.Client(base_url=server.url, timeout=30)
    seen: set[int] = set()

    @settings(max_examples=EXAMPLES_PER_SCRIPT, deadline=None, suppress_health_check=list(HealthCheck))
    @given(requests)
    def send(request: dict) -> None:  # type: ignore[type-arg]
        headers = dict(request["headers"])
        if request["content_type"]:
            headers["Content-Type"] = request["content_type"]
        answer = client.request(
            request["method"],
            f"{request['path']}?{request['query']}",
            content=request["body"],
            headers=headers,
        )
        seen.add(answer.status_code)
        assert answer.status_code in CLIENT_MISTAKES, (request, answer.status_code, answer.text)

    send()
    client.close()
    assert 200 in seen
    assert server.process.poll() is None
    assert httpx.get(server.url + "/").status_code == 200
    assert "Traceback" not in server.log()
    assert server.log().count("Booting worker with pid") == 1  # no request ended the worker


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"POST /score HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /score HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
    b"POST /score HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
    b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"a" * 100_000 + b"\r\n\r\n",
    b"\x00\x01\x02\x03" * 100,
    b"POST /score HTTP/9.9\r\n\r\n",
]


def test_malformed_http_never_crashes_the_server(servers: Servers) -> None:
    server = servers.ours("echo.py")
    for payload in MALFORMED:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
            try:
                while connection.recv(65536):
                    pass
            except (ConnectionResetError, TimeoutError):
                pass
    assert server.process.poll() is None
    assert httpx.post(server.url + "/score", content="still here").json() == "still here"
