"""Worker recycling and the answer cap of a Kubernetes service, from `mldeploy deploy` and `mldeploy service
update` to the server config in the Secret the pods mount, against the FAKE API server of
tests/clusters/fake_api.py (no cluster can be had here). The image is built on the real Docker engine."""

import json
from pathlib import Path
from typing import Any

import pytest

from mldeploy import Model, Workspace
from tests.clusters.test_cluster_flow import ECHO
from tests.deployments.test_cli import mldeploy

pytestmark = pytest.mark.slow


def _limits(cluster: Any) -> tuple[int, int, int]:
    server = json.loads(cluster.cluster.objects[("secrets", "ml", "limited-config")]["stringData"]["server.json"])
    return server["max_requests_per_worker"], server["max_worker_rss_mb"], server["max_response_bytes"]


def test_deploy_and_update_carry_them_into_the_pods_config(
    docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    deployed = mldeploy(workspace, "deploy", "limited", "-m", "my_best_model", "--entry-script", "echo.py",
                        "--target", "kubernetes", "--namespace", "ml", "--memory", "1",
                        "--max-requests-per-worker", "1000", "--max-worker-rss-mb", "700")  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    assert _limits(cluster) == (1000, 700, 0)

    updated = mldeploy(workspace, "service", "update", "limited", "--max-response-mb", "2")
    assert updated.returncode == 0, updated.stderr
    assert _limits(cluster) == (1000, 700, 2 * 2**20)  # what the update did not give is kept

    refused = mldeploy(workspace, "service", "update", "limited", "--memory", "0.5")
    assert refused.returncode == 2
    assert "--max-worker-rss-mb 700 is at or above the container's memory limit (512 MiB, --memory)" in refused.stderr
    assert _limits(cluster) == (1000, 700, 2 * 2**20)
