"""Shared fixtures: the FAKE API server (tests/clusters/fake_api.py), the real Docker engine that builds the
images, and a workspace with a registered model, torn down before the fake cluster stops."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mldeploy import Workspace
from tests.clusters import scenarios
from tests.clusters.fake_api import FakeApiServer
from tests.containers.conftest import docker_client  # noqa: F401 - shared fixture
from tests.deployments.conftest import model, project  # noqa: F401 - shared fixtures


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fake API server playing ``request.param`` (default: a healthy rollout); KUBECONFIG points at it."""
    scenario = getattr(request, "param", scenarios.healthy)
    with FakeApiServer(scenario, tmp_path) as server:
        monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig))
        yield server


@pytest.fixture
def workspace(cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    workspace = Workspace(tmp_path / "workspace")
    yield workspace
    for service in workspace.webservices.values():
        service.delete()
