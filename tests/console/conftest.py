"""A workspace with a real local service, the console started on it as `mldeploy ui` runs it, and Debian's
Chromium driven by Playwright (no browser is downloaded: the suite is skipped without /usr/bin/chromium)."""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mldeploy import InferenceConfig, LocalWebservice, Model, Workspace
from tests.support.servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
SCRIPTS = Path(__file__).parent / "scripts"
ARTIFACTS = Path(os.environ.get("MLDEPLOY_SCREENSHOTS", Path(__file__).parents[2] / "test-artifacts" / "console"))
URL = re.compile(r"Open: (http://127\.0\.0\.1:\d+)/\?token=(\S+)")


@dataclass
class Console:
    base: str
    token: str
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path_factory.mktemp("console") / "workspace")
    yield workspace
    for service in workspace.webservices.values():
        service.delete()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    shutil.copy(SCRIPTS / "row_sums.py", folder / "score.py")
    (folder / "scale.txt").write_text("2")
    return folder


@pytest.fixture(scope="module")
def sums(workspace: Workspace, project: Path) -> str:
    """A healthy local service with a model: row sums times the model's scale (2)."""
    model = Model.register(workspace, project / "scale.txt", "scale", tags={"stage": "test"})
    config = InferenceConfig(entry_script=str(project / "score.py"))
    Model.deploy(workspace, "sums", [model], config, LocalWebservice.deploy_configuration()).wait_for_deployment()
    return "sums"


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: gone, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: tester, user: {{token: not-a-secret}}}}]
contexts: [{{name: gone, context: {{cluster: gone, user: tester}}}}]
current-context: gone
"""


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig naming a cluster on a loopback port where nothing listens: a cluster that does not answer."""
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(KUBECONFIG.format(port=free_port()))
    return path


@pytest.fixture(scope="module")
def console(workspace: Workspace, kubeconfig: Path) -> Iterator[Console]:
    command = [sys.executable, "-m", "mldeploy", "ui", "--port", "0", "--workspace", str(workspace.path)]
    environment = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    assert process.stdout is not None
    first_lines = [process.stdout.readline() for _ in range(2)]
    found = URL.search("".join(first_lines))
    if found is None:
        process.kill()
        pytest.fail(f"mldeploy ui printed no URL: {first_lines} {process.communicate()[1]}")
    yield Console(found.group(1), found.group(2), process)
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(30_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
