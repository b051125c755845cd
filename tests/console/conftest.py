"""A workspace with a real local service, the console started on it as `mldeploy ui` runs it, and Debian's
Chromium driven by Playwright (no browser is downloaded: the suite is skipped without /usr/bin/chromium)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mldeploy import InferenceConfig, LocalWebservice, Model, Workspace
from tests.support.console import Console, browser, page, running_console
from tests.support.servers import free_port

SCRIPTS = Path(__file__).parent / "scripts"
__all__ = ["browser", "page"]
ARTIFACTS = Path(os.environ.get("MLDEPLOY_SCREENSHOTS", Path(__file__).parents[2] / "test-artifacts" / "console"))


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
    with running_console(workspace.path, {"KUBECONFIG": str(kubeconfig)}) as console:
        yield console


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
