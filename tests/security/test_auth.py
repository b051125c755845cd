"""Service keys: no method, path spelling or header trick reaches run() without the key; keys stay out of
command lines; token auth never silently turns auth off."""

import os
import socket
from pathlib import Path

import httpx
import pytest

from mldeploy.api.deploy_config import aks_configuration
from mldeploy.targets.keys import keys_for
from tests.conftest import Servers

KEY = "k3y-for-tests-0123456789"
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"]
PATHS = ["/score", "/score?x=1", "/%73core", "/score/", "//score", "/./score", "/SCORE", "/score%00", "/score;x"]
WRONG_CREDENTIALS = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": f"Bearer {KEY}x"},
    {"Authorization": f"Bearer {KEY[:-1]}"},
    {"X-Mldeploy-Key": ""},
    {"X-Mldeploy-Key": KEY.upper()},
    {"Authorization": "Bearer wrong", "X-Mldeploy-Key": KEY},
]


def raw_request(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"data") -> tuple[int, bytes]:
    """Send exactly this request line (no client normalises the path); the status and body of the answer."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    return tmp_path / "calls.txt"


def keyed_server(servers: Servers, calls: Path, **env: str) -> object:
    return servers.ours("rawhttp_records_calls.py", env={"CALLS_FILE": str(calls), **env}, args=["--auth-key", KEY])


@pytest.mark.slow
def test_no_method_or_path_spelling_reaches_run_without_the_key(servers: Servers, calls: Path) -> None:
    server = keyed_server(servers, calls)
    answers = {}
    for method in METHODS:
        for path in PATHS:
            for credentials in WRONG_CREDENTIALS:
                status, body = raw_request(server.port, method, path, credentials)  # type: ignore[attr-defined]
                answers[(method, path, str(credentials))] = status
                assert status in (200, 401, 404, 405), (method, path, credentials, status)
                if status == 200:  # an unauthenticated OPTIONS is answered by the front, empty
                    assert (method, body) == ("OPTIONS", b""), (path, credentials)
    assert not calls.exists(), f"run() was called without the key: {calls.read_text()}"
    assert answers[("POST", "/%73core", "{}")] == 401
    assert answers[("OPTIONS", "/score", "{}")] == 200
    status, body = raw_request(server.port, "OPTIONS", "/score", {"Authorization": f"Bearer {KEY}"}, b"hello")  # type: ignore[attr-defined]
    assert (status, body) == (200, b"hello")  # with the key, a @rawhttp run() sees OPTIONS, as the reference's does
    assert calls.read_text() == "OPTIONS\n"


def test_cors_preflight_without_a_key_is_answered_by_the_front(servers: Servers, calls: Path) -> None:
    server = keyed_server(servers, calls, AML_CORS_ORIGINS="http://a.example")
    preflight = {"Origin": "http://a.example", "Access-Control-Request-Method": "POST"}
    answer = httpx.options(server.url + "/score", headers=preflight)  # type: ignore[attr-defined]
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://a.example"
    assert answer.headers["access-control-allow-methods"] == "GET, POST"
    assert not calls.exists()
    scored = httpx.post(server.url + "/score", content="x", headers={"X-Mldeploy-Key": KEY})  # type: ignore[attr-defined]
    assert (scored.status_code, scored.text) == (200, "x")


def test_keys_from_a_file_or_the_environment_never_show_on_the_command_line(servers: Servers, tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# primary, then secondary\n{KEY}\nsecond-{KEY}\n")
    key_file.chmod(0o600)
    from_file = servers.ours("echo.py", args=["--auth-key-file", str(key_file)])
    from_env = servers.ours("pid.py", env={"MLDEPLOY_AUTH_KEYS": f"{KEY},second-{KEY}"})
    for server in (from_file, from_env):
        command_line = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert KEY.encode() not in command_line
        assert httpx.post(server.url + "/score", content="0").status_code == 401
        for key in (KEY, f"second-{KEY}"):
            headers = {"Authorization": f"Bearer {key}"}
            assert httpx.post(server.url + "/score", content="0", headers=headers).status_code == 200
    worker_pid = httpx.post(from_env.url + "/score", content="0", headers={"Authorization": f"Bearer {KEY}"}).json()
    worker_environment = Path(f"/proc/{worker_pid}/environ").read_bytes()
    assert b"MLDEPLOY_AUTH_KEYS" not in worker_environment  # score.py never sees the keys
    assert os.getpid() != worker_pid


def test_an_empty_key_file_is_refused_in_plain_words(servers: Servers, tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("\n# nothing\n")
    server = servers.ours("echo.py", healthy=False, args=["--auth-key-file", str(tmp_path / "keys")])
    assert server.wait_exit() == 2
    assert "holds no key" in server.log()
    assert "Traceback" not in server.log()


def test_token_auth_is_served_with_keys_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    for settings in (
        aks_configuration(token_auth_enabled=True),
        aks_configuration(auth_enabled=False, token_auth_enabled=True),
    ):
        assert settings["auth_enabled"] is True
        assert len(keys_for(settings, [])) == 2
    notice = capsys.readouterr().err
    assert "Azure AD tokens do not exist" in notice
    assert "mldeploy service keys" in notice
    assert keys_for(aks_configuration(auth_enabled=False), []) == []
