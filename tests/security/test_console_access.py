"""The console's door, tried as a hostile page would in a real browser (Debian's Chromium): a page served from
another port of 127.0.0.1 -- any local server, a user's @rawhttp score.py among them -- cannot make the
browser act on the console, and no other local server is ever sent a credential of the console. A second
console in the same browser does not log the first one out."""

import contextlib
import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest

from mldeploy import InferenceConfig, Model, Workspace
from tests.support.console import Console, running_console
from tests.support.servers import SCRIPTS

pytestmark = pytest.mark.slow


class Hostile(http.server.ThreadingHTTPServer):
    """A plain HTTP server on another loopback port: serves the pages it is given, records every request's
    headers."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _HostileHandler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    server: Hostile

    def do_GET(self) -> None:
        self.server.seen.append({name.lower(): value for name, value in self.headers.items()})
        body = self.server.pages.get(self.path.split("?")[0], "nothing here").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def hostile(pages: dict[str, str]) -> Iterator[Hostile]:
    server = Hostile(pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path_factory.mktemp("console-door") / "workspace")
    yield workspace
    for service in workspace.webservices.values():
        service.delete()


@pytest.fixture(scope="module")
def victim(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A healthy local service that a hostile page would like to delete."""
    folder = tmp_path_factory.mktemp("victim")
    (folder / "score.py").write_text((SCRIPTS / "echo.py").read_text())
    Model.deploy(workspace, "victim", [], InferenceConfig(entry_script=str(folder / "score.py"))).wait_for_deployment()
    return "victim"


@pytest.fixture(scope="module")
def console(workspace: Workspace) -> Iterator[Console]:
    with running_console(workspace.path) as console:
        yield console


def _still_serving(workspace: Workspace, name: str) -> None:
    assert name in workspace.webservices, f"{name} was deleted by another origin's page"
    assert "still here" in str(workspace.webservices[name].run(b"still here"))


FORM = """<!doctype html><form method="post" action="{action}"><input name="x" value="1"></form>
<script>document.forms[0].submit()</script>"""
FETCH = """<!doctype html><p id="done">sending</p><script>
fetch("{action}", {{method: "POST", mode: "no-cors", credentials: "include"}})
  .finally(() => document.getElementById("done").textContent = "sent");
</script>"""


def test_a_page_on_another_port_cannot_act_on_the_console(  # type: ignore[no-untyped-def]
    console: Console, workspace: Workspace, victim: str, page
) -> None:
    page.goto(console.url)  # the console is open in this browser: whatever it keeps there is there
    page.get_by_role("link", name=victim).wait_for()
    action = f"{console.base}/services/{victim}/actions/delete"
    with hostile({"/form": FORM.format(action=action), "/fetch": FETCH.format(action=action)}) as server:
        with page.expect_response(action) as refused:
            page.goto(server.base + "/form")
        assert refused.value.status == 403  # another origin, before the token is even looked for
        _still_serving(workspace, victim)
        page.goto(server.base + "/fetch")
        page.wait_for_function("document.getElementById('done').textContent === 'sent'")
        _still_serving(workspace, victim)


def test_the_console_refuses_actions_from_another_origin_even_with_its_token(console: Console, victim: str) -> None:
    token = {"Authorization": f"token {console.token}"}
    action = f"/services/{victim}/actions/reload"
    with httpx.Client(base_url=console.base, timeout=60) as client:
        for foreign in ({"Origin": "http://127.0.0.1:1"}, {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"}):
            refused = client.post(action, headers={**token, **foreign})
            assert refused.status_code == 403, foreign
            assert "another page" in refused.text
        assert client.post(action + f"?token={console.token}", headers={"Origin": console.base}).status_code == 401
        done = client.post(action, headers={**token, "Origin": console.base, "Sec-Fetch-Site": "same-origin"})
        assert done.status_code == 200, done.text


def test_no_other_local_server_receives_a_console_credential(console: Console, victim: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(console.url)
    page.get_by_role("link", name=victim).click()
    page.get_by_role("button", name="Send request").wait_for()
    with hostile({}) as server:
        page.goto(server.base + "/")
        page.goto(server.base.replace("127.0.0.1", "localhost") + "/")
    assert {headers["host"].split(":")[0] for headers in server.seen} == {"127.0.0.1", "localhost"}
    for headers in server.seen:
        assert "cookie" not in headers, headers
        assert not any(console.token in value for value in headers.values()), headers


def test_a_second_console_does_not_log_the_first_one_out(  # type: ignore[no-untyped-def]
    console: Console, workspace: Workspace, victim: str, page
) -> None:
    page.goto(console.url)
    page.get_by_role("link", name=victim).wait_for()
    with running_console(workspace.path) as second:
        page.goto(second.url)
        page.get_by_role("link", name=victim).wait_for()
        page.goto(f"{console.base}/services/{victim}")  # the first console again, without its token in the address
        page.get_by_role("button", name="Send request").click()
        page.get_by_role("article", name="Answer").filter(has_text="Status 200").wait_for()
        page.goto(f"{second.base}/models")
        page.get_by_role("heading", name="Models").wait_for()
    assert "token=" not in page.url


def test_a_page_of_the_console_cannot_be_framed(console: Console) -> None:
    opened = httpx.get(console.url, timeout=30)
    assert opened.status_code == 200
    assert opened.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in opened.headers["content-security-policy"]
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in opened.headers
