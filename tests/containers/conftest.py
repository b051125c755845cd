"""The real Docker engine (scripts/test.sh installs docker.io and starts dockerd when none answers)."""

import os
from typing import Any

import pytest

from mldeploy.errors import DockerUnavailable
from mldeploy.targets.docker_engine import connect


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        return connect()
    except DockerUnavailable as reason:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Docker tests skipped: {reason}")


from tests.deployments.conftest import model, project, workspace  # noqa: E402, F401 - shared fixtures
