"""An update of a Kubernetes service keeps every setting it is not given (issue 23, item 4): each option of
`mldeploy service update` and each setting of `AksWebservice.deploy_configuration` given alone to
`Webservice.update()` changes that setting only, in the record, the pods' config and the objects applied;
the image keeps the service's environment. Against the FAKE API server of tests/clusters/fake_api.py (no
cluster can be had here); images are built on the real Docker engine."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mldeploy import AksWebservice, Environment, InferenceConfig, Model, Webservice, Workspace
from mldeploy.workspace.services import load
from tests.clusters.conftest import cluster, workspace
from tests.containers.conftest import docker_client
from tests.deployments.test_cli import mldeploy
from tests.security.test_update_keeps import MODELS, assert_only, snapshot, write_project

__all__ = ["cluster", "docker_client", "workspace"]
pytestmark = pytest.mark.slow

NAME = "kept-k8s"
NAMESPACE = "ml"
DEPLOYED = {
    "namespace": NAMESPACE, "cpu_cores": 0.5, "memory_gb": 2, "gpu_cores": 1, "autoscale_min_replicas": 2,
    "autoscale_max_replicas": 5, "autoscale_target_utilization": 60, "tags": {"team": "churn"},
    "description": "scores churn", "scoring_timeout_ms": 30_000, "max_request_wait_time": 800,
    "replica_max_concurrent_requests": 2, "max_requests_per_worker": 50, "max_worker_rss_mb": 900,
    "max_response_mb": 2, "primary_key": "deployed-primary-key-0123456789ab", "secondary_key": None,
}  # fmt: skip
CPU = ("setting cpu_cores", "setting cpu_cores_limit", "cluster resources")
MEMORY = ("setting memory_gb", "setting memory_gb_limit", "cluster resources")
AUTOSCALER = ("cluster autoscaler",)
AUTH = ("setting auth_enabled", "keys", "server auth_keys")


@pytest.fixture
def deployed(docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path) -> Webservice:
    """A Kubernetes service deployed with its settings away from their defaults, and a second model version."""
    write_project(project)
    Model.register(workspace, "model.pkl", "my_best_model")
    environment = Environment.from_pip_requirements(f"{NAME}-env", "requirements.txt")
    config = AksWebservice.deploy_configuration(**DEPLOYED)
    service = Model.deploy(workspace, NAME, [model], InferenceConfig("score.py", "app", environment), config)
    service.wait_for_deployment()
    return service


def cluster_snapshot(docker_client: Any, cluster: Any, workspace: Workspace) -> dict[str, Any]:
    """The record, the pods' config and the objects applied; and whether the image has the environment."""
    objects = cluster.cluster.objects
    deployment = objects[("deployments", NAMESPACE, NAME)]["spec"]
    autoscaler = objects.get(("horizontalpodautoscalers", NAMESPACE, NAME))
    image = load(workspace.path, NAME).image
    environment = docker_client.containers.run(image, ["/opt/mldeploy/env/bin/python", "-c", "import six; print(1)"],
                                               network_mode="host", remove=True)  # fmt: skip
    return {
        **snapshot(workspace, NAME),
        "cluster replicas": deployment["replicas"],
        "cluster resources": deployment["template"]["spec"]["containers"][0]["resources"],
        "cluster autoscaler": autoscaler and {key: autoscaler["spec"].get(key) for key in ("minReplicas",
                                                                                           "maxReplicas", "metrics")},
        "image has the environment": environment.strip() == b"1",
    }  # fmt: skip


CLI_OPTIONS = {
    "cpu": (["--cpu", "1"], CPU),
    "memory": (["--memory", "3"], MEMORY),
    "gpu": (["--gpu", "2"], ("setting gpu_cores", "cluster resources")),
    "replicas": (["--replicas", "3"], ("setting num_replicas", "setting autoscale_enabled", "cluster replicas",
                                       *AUTOSCALER)),
    "min-replicas": (["--min-replicas", "3"], ("setting autoscale_min_replicas", "cluster replicas", *AUTOSCALER)),
    "max-replicas": (["--max-replicas", "8"], ("setting autoscale_max_replicas", *AUTOSCALER)),
    "target-utilization": (["--target-utilization", "50"], ("setting autoscale_target_utilization", *AUTOSCALER)),
    "no-auth": (["--no-auth"], AUTH),
    "max-requests-per-worker": (
        ["--max-requests-per-worker", "10"], ("setting max_requests_per_worker", "server max_requests_per_worker")
    ),
    "max-worker-rss-mb": (["--max-worker-rss-mb", "800"], ("setting max_worker_rss_mb", "server max_worker_rss_mb")),
    "max-response-mb": (["--max-response-mb", "3"], ("setting max_response_mb", "server max_response_bytes")),
    "model": (["--model", "my_best_model:2"], MODELS),
    "entry-script": (["--entry-script", "v2.py"], ("entry_script",)),
    "source-dir": (["--source-dir", "app2"], ("source_directory",)),
    "pip-requirements": (["--pip-requirements", "requirements2.txt"], ("environment",)),
    "conda-file": (["--conda-file", "conda.yml"], ("environment",)),
}  # fmt: skip


@pytest.mark.parametrize(("args", "changed"), CLI_OPTIONS.values(), ids=CLI_OPTIONS.keys())
def test_a_service_update_option_alone_keeps_everything_else(
    args: list[str], changed: tuple[str, ...], docker_client: Any, cluster: Any, workspace: Workspace,
    deployed: Webservice,
) -> None:  # fmt: skip
    before = cluster_snapshot(docker_client, cluster, workspace)
    updated = mldeploy(workspace, "service", "update", NAME, *args)
    assert updated.returncode == 0, updated.stderr
    assert_only(before, cluster_snapshot(docker_client, cluster, workspace), changed)


def _aks(**settings: Any) -> Callable[[Webservice], None]:
    return lambda service: service.update(deployment_config=AksWebservice.deploy_configuration(**settings))


API_SETTINGS = {
    "tags": (_aks(tags={"team": "retention"}), ("setting tags",)),
    "description": (_aks(description="scores retention"), ("setting description",)),
    "cpu_cores": (_aks(cpu_cores=1), CPU),
    "memory_gb": (_aks(memory_gb=3), MEMORY),
    "autoscale_max_replicas": (_aks(autoscale_max_replicas=8), ("setting autoscale_max_replicas", *AUTOSCALER)),
    "num_replicas": (_aks(num_replicas=3), ("setting num_replicas", "setting autoscale_enabled", "cluster replicas",
                                            *AUTOSCALER)),
    "scoring_timeout_ms": (
        _aks(scoring_timeout_ms=20_000), ("setting scoring_timeout_ms", "server scoring_timeout_ms")
    ),
    "auth_enabled": (_aks(auth_enabled=False), AUTH),
    "max_worker_rss_mb": (_aks(max_worker_rss_mb=1500), ("setting max_worker_rss_mb", "server max_worker_rss_mb")),
    "namespace": (_aks(namespace=NAMESPACE), ()),
    "autoscale_min_replicas": (
        _aks(autoscale_min_replicas=3), ("setting autoscale_min_replicas", "cluster replicas", *AUTOSCALER)
    ),
    "autoscale_target_utilization": (
        _aks(autoscale_target_utilization=50), ("setting autoscale_target_utilization", *AUTOSCALER)
    ),
    "autoscale_refresh_seconds": (_aks(autoscale_refresh_seconds=5), ("setting autoscale_refresh_seconds",)),
    "autoscale_enabled": (_aks(autoscale_enabled=False), ("setting autoscale_enabled", *AUTOSCALER)),
    "replica_max_concurrent_requests": (
        _aks(replica_max_concurrent_requests=3),
        ("setting replica_max_concurrent_requests", "server max_concurrent_requests"),
    ),
    "max_request_wait_time": (
        _aks(max_request_wait_time=900), ("setting max_request_wait_time", "server max_request_wait_ms")
    ),
    "gpu_cores": (_aks(gpu_cores=2), ("setting gpu_cores", "cluster resources")),
    "period_seconds": (_aks(period_seconds=20), ("setting period_seconds",)),
    "properties": (_aks(properties={"owner": "ml"}), ("setting properties",)),
    "cpu_cores_limit": (_aks(cpu_cores_limit=1), ("setting cpu_cores_limit", "cluster resources")),
    "memory_gb_limit": (_aks(memory_gb_limit=3), ("setting memory_gb_limit", "cluster resources")),
    "token_auth_enabled": (_aks(token_auth_enabled=True), ("setting token_auth_enabled",)),
    "legacy_compat": (_aks(legacy_compat=True), ("setting legacy_compat", "server legacy_compat")),
    "max_requests_per_worker": (
        _aks(max_requests_per_worker=10), ("setting max_requests_per_worker", "server max_requests_per_worker")
    ),
    "max_response_mb": (_aks(max_response_mb=3), ("setting max_response_mb", "server max_response_bytes")),
}  # fmt: skip


@pytest.mark.parametrize(("update", "changed"), API_SETTINGS.values(), ids=API_SETTINGS.keys())
def test_a_deploy_configuration_setting_alone_keeps_everything_else(
    update: Callable[[Webservice], None], changed: tuple[str, ...], docker_client: Any, cluster: Any,
    workspace: Workspace, deployed: Webservice,
) -> None:  # fmt: skip
    before = cluster_snapshot(docker_client, cluster, workspace)
    update(deployed)
    assert_only(before, cluster_snapshot(docker_client, cluster, workspace), changed)


def test_a_regenerated_key_is_kept_by_later_updates(workspace: Workspace, deployed: Webservice) -> None:
    """The deploy gave the primary key; one regenerated since is the one served after an update that does not
    give keys (it used to come back to the deploy's)."""
    assert deployed.get_keys()[0] == DEPLOYED["primary_key"]
    deployed.regen_key("Primary")
    keys = deployed.get_keys()
    assert mldeploy(workspace, "service", "update", NAME, "--cpu", "1").returncode == 0
    assert Webservice(workspace, NAME).get_keys() == keys
    deployed.update(deployment_config=AksWebservice.deploy_configuration(description="scores retention"))
    assert deployed.get_keys() == keys
