"""Worker recycling and the answer cap of a container service: from `mldeploy deploy --target docker` and
`mldeploy service update` to the server config the container reads, and served (real Docker engine)."""

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from mldeploy import Workspace
from mldeploy.workspace.services import load
from tests.deployments.test_cli import mldeploy
from tests.support.servers import SCRIPTS

pytestmark = pytest.mark.slow


def test_a_container_recycles_its_workers_and_an_update_keeps_the_limits(
    docker_client: Any, workspace: Workspace, project: Path
) -> None:
    shutil.copy(SCRIPTS / "pid.py", project / "pid.py")
    deployed = mldeploy(workspace, "deploy", "dock-limits", "--entry-script", "pid.py", "--target", "docker",
                        "--cpu", "1", "--memory", "1", "--max-requests-per-worker", "5",
                        "--max-worker-rss-mb", "400")  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    record = load(workspace.path, "dock-limits")
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.post(record.scoring_uri, content="0.005"), range(60)))
    assert [answer.status_code for answer in answers] == [200] * 60
    assert len({answer.text for answer in answers}) >= 2  # recycled (each serves until the next is up)
    assert "(--max-requests-per-worker)" in mldeploy(workspace, "service", "logs", "dock-limits").stdout
    updated = mldeploy(workspace, "service", "update", "dock-limits", "--max-response-mb", "1")
    assert updated.returncode == 0, updated.stderr
    server = json.loads(load(workspace.path, "dock-limits").config_file.read_text())
    assert (server["max_requests_per_worker"], server["max_worker_rss_mb"], server["max_response_bytes"]) == (
        5, 400, 2**20,
    )  # fmt: skip
