"""The front's own HTTP/1.1 handling, seen on the wire (echo.py answers its body as a JSON string): pipelining,
Expect: 100-continue, HTTP/1.0, a client that half-closes, HEAD, chunked bodies, keep-alive after a refusal,
and the Date header; each with the front compiled (when built) and as Python."""

import socket

import pytest

from mldeploy.scoring.compiled import PURE_ENV
from mldeploy.scoring.front import KEEP_ALIVE_S, MAX_PIPELINED
from tests.conftest import Servers
from tests.support.servers import Server

KEY = "front-test-key"


def post(body: bytes, *headers: str, path: str = "/score", version: str = "1.1") -> bytes:
    lines = [f"POST {path} HTTP/{version}", "Host: 127.0.0.1", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answers(connection: socket.socket, count: int) -> list[tuple[bytes, dict[str, str], bytes]]:
    """``count`` answers read off the connection: status line, headers (lower-case names), body."""
    buffer = b""
    answers = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = connection.recv(65536)
            assert chunk, f"connection closed after {len(answers)} answer(s): {buffer!r}"
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
        if status.startswith("HTTP/1.1 100"):
            answers.append((status.encode(), headers, b""))
            continue
        size = int(headers["content-length"])
        while len(buffer) < size:
            chunk = connection.recv(65536)
            assert chunk, "connection closed in the middle of a body"
            buffer += chunk
        answers.append((status.encode(), headers, buffer[:size]))
        buffer = buffer[size:]
    return answers


def closed(connection: socket.socket) -> bool:
    connection.settimeout(5)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture(scope="module", params=["default", "python"])
def echo(module_servers: Servers, request: pytest.FixtureRequest) -> Server:
    """The front as servers run it (compiled when built: scripts/test.sh builds it), and as Python."""
    env = {PURE_ENV: "1"} if request.param == "python" else {}
    return module_servers.ours("echo.py", args=["--auth-key", KEY], env=env)


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


AUTH = f"Authorization: Bearer {KEY}"


def test_pipelined_requests_are_answered_in_order(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(b"".join(post(str(number).encode(), AUTH) for number in range(5)))
        answers = read_answers(connection, 5)
    assert [body for _, _, body in answers] == [f'"{number}"'.encode() for number in range(5)]
    assert all(status.startswith(b"HTTP/1.1 200") for status, _, _ in answers)
    assert len({headers["x-request-id"] for _, headers, _ in answers}) == 5
    assert all(headers["date"].endswith(" GMT") for _, headers, _ in answers)


def test_a_connection_that_pipelined_past_the_limit_reads_again_once_answered(echo: Server) -> None:
    """A scoring request, then more health checks than the front parses ahead (it stops reading): once all are
    answered it reads again, so the next request on the connection is answered too."""
    health = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connect(echo) as connection:
        connection.sendall(post(b"first", AUTH) + health * (MAX_PIPELINED + 4))
        answers = read_answers(connection, MAX_PIPELINED + 5)
        assert answers[0][2] == b'"first"' and {body for _, _, body in answers[1:]} == {b"Healthy"}
        connection.sendall(post(b"after", AUTH))
        [(status, _, body)] = read_answers(connection, 1)
    assert status.startswith(b"HTTP/1.1 200") and body == b'"after"'


def test_expect_100_continue_is_answered_before_the_body_is_sent(echo: Server) -> None:
    with connect(echo) as connection:
        head, _, body = post(b"later", AUTH, "Expect: 100-continue").partition(b"\r\n\r\n")
        connection.sendall(head + b"\r\n\r\n")
        [(interim, _, _)] = read_answers(connection, 1)
        assert interim.startswith(b"HTTP/1.1 100")
        connection.sendall(body)
        [(status, _, answer)] = read_answers(connection, 1)
    assert status.startswith(b"HTTP/1.1 200") and answer == b'"later"'


@pytest.mark.parametrize("asked", [(), ("Connection: keep-alive",)], ids=["plain", "asking-keep-alive"])
def test_http_1_0_gets_its_answer_then_the_connection_closes(echo: Server, asked: tuple[str, ...]) -> None:
    with connect(echo) as connection:
        connection.sendall(post(b"old", AUTH, *asked, version="1.0"))
        [(status, headers, body)] = read_answers(connection, 1)
        assert status.startswith(b"HTTP/1.1 200") and body == b'"old"'
        assert headers["connection"] == "close"
        assert closed(connection)


def test_http_1_1_asking_keep_alive_is_kept(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(post(b"one", AUTH, "Connection: keep-alive") + post(b"two", AUTH, "Connection: keep-alive"))
        answers = read_answers(connection, 2)
    assert [body for _, _, body in answers] == [b'"one"', b'"two"']
    assert all("connection" not in headers for _, headers, _ in answers)


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_time(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(post(b"one", AUTH))
        [(status, _, _)] = read_answers(connection, 1)
        assert status.startswith(b"HTTP/1.1 200")
        connection.settimeout(3 * KEEP_ALIVE_S)  # closed after KEEP_ALIVE_S idle, not after the read timeout (30 s)
        assert connection.recv(1) == b""


def test_a_client_that_half_closes_still_reads_its_answer(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(post(b"bye", AUTH))
        connection.shutdown(socket.SHUT_WR)
        [(status, _, body)] = read_answers(connection, 1)
        assert status.startswith(b"HTTP/1.1 200") and body == b'"bye"'
        assert closed(connection)


def test_head_announces_the_length_and_sends_no_body(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, _, rest = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"\r\ncontent-length: 7" in head
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        following = rest + connection.recv(65536)
    assert following.startswith(b"HTTP/1.1 200") and following.endswith(b"Healthy")  # nothing sent for HEAD


def test_a_chunked_body_is_read_whole(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(
            f"POST /score HTTP/1.1\r\nHost: x\r\n{AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        )
        [(status, _, body)] = read_answers(connection, 1)
    assert status.startswith(b"HTTP/1.1 200") and body == b'"abcde"'


def test_a_refusal_whose_body_arrived_keeps_the_connection(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(post(b"no key") + post(b"with key", AUTH))
        (refused, _, _), (status, _, body) = read_answers(connection, 2)
    assert refused.startswith(b"HTTP/1.1 401")
    assert status.startswith(b"HTTP/1.1 200") and body == b'"with key"'


def test_a_refusal_whose_body_is_still_coming_is_answered_at_once_and_closes(echo: Server) -> None:
    with connect(echo) as connection:
        connection.sendall(post(b"x" * 1_000_000)[:200])  # the head and the start of a large body, no key
        [(status, headers, _)] = read_answers(connection, 1)
        assert status.startswith(b"HTTP/1.1 401") and headers["connection"] == "close"
        assert closed(connection)
