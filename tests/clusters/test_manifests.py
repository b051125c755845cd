"""The Kubernetes objects of a service: the v1 settings land where they should, and every object is valid
against the official schemas of a recent Kubernetes (kubernetes-validate, strict: no unknown field)."""

import stat
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mldeploy.api.deploy_config import aks_configuration
from mldeploy.errors import WebserviceException
from mldeploy.scoring.config import ServerConfig
from mldeploy.targets.kube_manifests import export, manifests, server_config

KUBERNETES_VERSION = "1.37.0"
IMAGE_CONFIG = ServerConfig(entry_script="/var/azureml-app/score.py", app_root="/var/azureml-app",
                            model_dir="azureml-models/m/1", host="0.0.0.0")  # fmt: skip
KEYS = ["primary-key", "secondary-key"]


def _objects(**settings: Any) -> dict[str, dict[str, Any]]:
    config = aks_configuration(**settings)
    built = manifests("diabetes", "registry.example/mldeploy/diabetes:1", server_config(IMAGE_CONFIG, config, KEYS),
                      config, KEYS)  # fmt: skip
    return {manifest["kind"]: manifest for manifest in built}


@pytest.mark.parametrize(
    "settings",
    [{}, {"gpu_cores": 1, "cpu_cores": 2, "memory_gb": 4, "cpu_cores_limit": 4}, {"num_replicas": 3}],
    ids=["defaults", "gpu", "fixed-replicas"],
)
def test_every_object_is_valid_for_kubernetes(settings: dict[str, Any]) -> None:
    for manifest in _objects(**settings).values():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_v1_defaults_and_settings_land_in_the_objects() -> None:
    objects = _objects(gpu_cores=1, cpu_cores=0.5, memory_gb=2, autoscale_max_replicas=4, namespace="ml")
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "2048Mi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "500m", "memory": "2048Mi", "nvidia.com/gpu": "1"},
    }
    liveness = container["livenessProbe"]
    assert (liveness["httpGet"]["path"], liveness["initialDelaySeconds"], liveness["periodSeconds"]) == ("/", 310, 10)
    assert (liveness["timeoutSeconds"], liveness["failureThreshold"]) == (2, 3)
    assert container["readinessProbe"]["initialDelaySeconds"] == 0
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 4)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    server = ServerConfig(**yaml.safe_load(objects["Secret"]["stringData"]["server.json"]))
    assert (server.scoring_timeout_ms, server.max_concurrent_requests, server.max_request_wait_ms) == (60000, 1, 500)
    assert list(server.auth_keys) == KEYS
    assert {manifest["metadata"]["namespace"] for manifest in objects.values()} == {"ml"}
    assert all(manifest["metadata"]["labels"]["mldeploy.io/service"] == "diabetes" for manifest in objects.values())


def test_fixed_replicas_have_no_autoscaler() -> None:
    objects = _objects(num_replicas=3)
    assert "HorizontalPodAutoscaler" not in objects
    assert objects["Deployment"]["spec"]["replicas"] == 3


def test_a_new_key_changes_the_pod_template() -> None:
    settings = aks_configuration()
    other = ["other", KEYS[1]]
    first = manifests("svc", "image:1", server_config(IMAGE_CONFIG, settings, KEYS), settings, KEYS)[1]
    second = manifests("svc", "image:1", server_config(IMAGE_CONFIG, settings, other), settings, other)[1]
    annotation = "mldeploy.io/config"
    assert (
        first["spec"]["template"]["metadata"]["annotations"][annotation]
        != (second["spec"]["template"]["metadata"]["annotations"][annotation])
    )


def test_unknown_arguments_and_two_auth_kinds_are_refused() -> None:
    with pytest.raises(WebserviceException, match="autoscale_maximum"):
        aks_configuration(autoscale_maximum=3)
    with pytest.raises(WebserviceException, match="cannot both be on"):
        aks_configuration(auth_enabled=True, token_auth_enabled=True)


def test_export_writes_yaml_files_in_apply_order(tmp_path: Path) -> None:
    settings = aks_configuration()
    objects = manifests("svc", "image:1", server_config(IMAGE_CONFIG, settings, KEYS), settings, KEYS)
    written = export(objects, tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700  # the Secret holds the keys
    assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o600}
    assert [path.name for path in written] == [
        "01-secret-svc-config.yaml", "02-deployment-svc.yaml", "03-service-svc.yaml",
        "04-horizontalpodautoscaler-svc.yaml",
    ]  # fmt: skip
    for path in written:
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), KUBERNETES_VERSION, strict=True)


def test_keda_scales_on_requests_in_flight_instead_of_cpu() -> None:
    objects = _objects(keda_prometheus_url="http://prometheus.monitoring:9090", replica_max_concurrent_requests=2)
    assert "HorizontalPodAutoscaler" not in objects
    scaled = objects["ScaledObject"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and scaled["spec"]["scaleTargetRef"] == {"name": "diabetes"}
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metadata"]["threshold"] == "1.4"  # 2 slots at 70 %
    assert "mldeploy_requests_in_flight" in trigger["metadata"]["query"]
    annotations = objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" and annotations["prometheus.io/port"] == "5001"


def test_pods_run_as_the_image_user_without_privileges_and_have_time_to_finish_requests() -> None:
    objects = _objects(scoring_timeout_ms=90_000)
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    assert pod["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    server = ServerConfig(**yaml.safe_load(objects["Secret"]["stringData"]["server.json"]))
    assert server.shutdown_grace_s >= 90 and pod["terminationGracePeriodSeconds"] > server.shutdown_grace_s


def test_worker_recycling_and_the_answer_cap_reach_the_pods_server_config() -> None:
    objects = _objects(memory_gb=1, max_requests_per_worker=1000, max_worker_rss_mb=700, max_response_mb=2)
    server = ServerConfig(**yaml.safe_load(objects["Secret"]["stringData"]["server.json"]))
    assert (server.max_requests_per_worker, server.max_worker_rss_mb, server.max_response_bytes) == (
        1000, 700, 2 * 2**20,
    )  # fmt: skip
    off = ServerConfig(**yaml.safe_load(_objects()["Secret"]["stringData"]["server.json"]))
    assert (off.max_requests_per_worker, off.max_worker_rss_mb, off.max_response_bytes) == (0, 0, 0)
