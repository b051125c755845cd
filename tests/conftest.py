"""Shared fixtures: an app root with real models, and factories that start real servers on 127.0.0.1."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.models import build_app_root
from tests.support.reference import reference_venv
from tests.support.servers import Server, start_ours, start_reference


@pytest.fixture(scope="session")
def app_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app root holding azureml-models/sk-model/1/model.pkl and .../2/model.pkl."""
    return build_app_root(tmp_path_factory.mktemp("app-root"), versions=(1, 2))


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


class Servers:
    """Starts servers and stops them all at teardown."""

    def __init__(self, app_root: Path, log_dir: Path) -> None:
        self.app_root = app_root
        self.log_dir = log_dir
        self.started: list[Server] = []

    def ours(self, script: str | None, *, healthy: bool = True, app_root: Path | None = None, **options) -> Server:  # type: ignore[no-untyped-def]
        options.setdefault("model_dir", "azureml-models/sk-model/1")
        server = start_ours(script, app_root or self.app_root, self.log_dir, **options)
        self.started.append(server)
        if healthy:
            server.wait_healthy()
        return server

    def reference(self, script: str, **options) -> Server:  # type: ignore[no-untyped-def]
        options.setdefault("model_dir", "azureml-models/sk-model/1")
        server = start_reference(reference_venv(), script, self.app_root, self.log_dir, **options)
        self.started.append(server)
        server.wait_healthy()
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def servers(app_root: Path, log_dir: Path) -> Iterator[Servers]:
    factory = Servers(app_root, log_dir)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_servers(app_root: Path, log_dir: Path) -> Iterator[Servers]:
    factory = Servers(app_root, log_dir)
    yield factory
    factory.stop_all()
