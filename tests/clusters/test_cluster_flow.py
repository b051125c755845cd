"""The Kubernetes flow (apply, wait, run, logs, update, keys, diagnose, delete, export) through the official
client, against the FAKE API server of tests/clusters/fake_api.py: no cluster can be had here. Images are
built on the real Docker engine."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import docker.errors
import kubernetes_validate
import pytest
import yaml

from mldeploy import AksWebservice, InferenceConfig, Model, WebserviceException, Workspace
from tests.clusters import scenarios
from tests.clusters.image_registry import running_registry
from tests.support.servers import start_ours

pytestmark = pytest.mark.slow
ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"
KUBERNETES_VERSION = "1.37.0"


def _deploy(workspace: Workspace, model: Model, project: Path, **settings: Any):  # type: ignore[no-untyped-def]
    (project / "echo.py").write_text(ECHO)
    config = AksWebservice.deploy_configuration(namespace="ml", **settings)
    return Model.deploy(workspace, "diabetes", [model], InferenceConfig("echo.py"), config)


def test_apply_run_update_keys_logs_and_delete(
    docker_client: Any,
    cluster: Any,
    workspace: Workspace,
    model: Model,
    project: Path,
    tmp_path: Path,
) -> None:
    objects = cluster.cluster.objects
    cluster.cluster.put("secrets", {"apiVersion": "v1", "metadata": {"name": "team-secret", "namespace": "ml"}})
    service = _deploy(workspace, model, project, autoscale_max_replicas=4, gpu_cores=1)
    service.wait_for_deployment()
    assert service.state == "Healthy" and service.compute_type == "AKS"
    kinds = {manifest["kind"] for (resource, namespace, name), manifest in objects.items() if namespace == "ml"}
    assert kinds >= {"Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "Pod"}
    for resource in ("secrets", "deployments", "services", "horizontalpodautoscalers"):
        sent = {key: value for key, value in objects[(resource, "ml", _name(resource))].items() if key != "status"}
        kubernetes_validate.validate(sent, KUBERNETES_VERSION, strict=True)
    container = objects[("deployments", "ml", "diabetes")]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"

    primary, secondary = service.get_keys()
    with start_ours("echo.py", tmp_path, tmp_path, args=["--auth-key", primary, "--auth-key", secondary]) as pod:
        pod.wait_healthy()
        cluster.cluster.proxy_to = pod.url
        assert service.run('"through the proxy"') == '"through the proxy"'
        assert "/services/diabetes:http/proxy/score" in service.scoring_uri
    assert "Booting worker with pid" in service.get_logs()

    template_before = objects[("deployments", "ml", "diabetes")]["spec"]["template"]["metadata"]["annotations"]
    service.regen_key("Primary")
    assert service.get_keys()[0] != primary
    secret = objects[("secrets", "ml", "diabetes-config")]["stringData"]
    assert secret["primaryKey"] == service.get_keys()[0]
    template_after = objects[("deployments", "ml", "diabetes")]["spec"]["template"]["metadata"]["annotations"]
    assert template_after != template_before, "a new key rolls the pods"

    service.update(deployment_config=AksWebservice.deploy_configuration(namespace="ml", autoscale_max_replicas=6))
    assert objects[("horizontalpodautoscalers", "ml", "diabetes")]["spec"]["maxReplicas"] == 6
    assert ("PUT", "/apis/apps/v1/namespaces/ml/deployments/diabetes") in cluster.cluster.requests

    image = objects[("deployments", "ml", "diabetes")]["spec"]["template"]["spec"]["containers"][0]["image"]
    docker_client.images.get(image).tag("kept-by-user/diabetes", "mine")
    service.delete()
    left = {(resource, name) for (resource, namespace, name) in objects if namespace == "ml" and resource != "pods"}
    assert left == {("secrets", "team-secret")}, "only what mldeploy made is deleted"
    assert docker_client.images.list(name=image.rpartition(":")[0]) == [], "the service's own image tags are removed"
    assert docker_client.images.get("kept-by-user/diabetes:mine"), "a user's tag on the same image stays"
    docker_client.images.remove("kept-by-user/diabetes:mine")


def _name(resource: str) -> str:
    return "diabetes-config" if resource == "secrets" else "diabetes"


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        (scenarios.crash_loop, ["CrashLoopBackOff", "after 3 restart(s)", "init() failed in /var/azureml-app/score.py",
                                "FileNotFoundError"]),
        (scenarios.out_of_memory, ["OOMKilled", "512Mi", "memory_gb", "appears 3 times"]),
        (scenarios.unschedulable, ["Couldn't Schedule because the kubernetes cluster didn't have available resources "
                                   "after trying for 00:05:00", "Insufficient nvidia.com/gpu", "GPU SKU"]),
        (scenarios.image_pull, ["ImagePullBackOff", "pull access denied", "imagePullSecret"]),
    ],
    indirect=["cluster"],
    ids=["crash-loop", "oom", "unschedulable", "image-pull"],
)  # fmt: skip
def test_each_failure_is_diagnosed_from_the_cluster_state(
    docker_client: Any,
    cluster: Any,
    expected: list[str],
    workspace: Workspace,
    model: Model,
    project: Path,
) -> None:
    service = _deploy(workspace, model, project, gpu_cores=1)
    with pytest.raises(WebserviceException) as failure:
        service.wait_for_deployment(timeout_sec=60)
    for phrase in expected:
        assert phrase in str(failure.value)
    assert service.state == "Failed"
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "diagnose", "diabetes"]
    diagnosed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert diagnosed.returncode == 1 and expected[0] in diagnosed.stdout


def test_no_cluster_is_a_clear_message(
    workspace: Workspace,
    model: Model,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(project / "no-such-kubeconfig"))
    with pytest.raises(WebserviceException, match="No Kubernetes cluster is configured"):
        _deploy(workspace, model, project)
    assert not (workspace.path / "services" / "diabetes").exists()


def test_a_cluster_that_stops_answering_shows_the_service_unhealthy_without_a_traceback(
    docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    _deploy(workspace, model, project).wait_for_deployment()
    gone = tmp_path / "kubeconfig-of-a-stopped-cluster"
    gone.write_text(cluster.kubeconfig.read_text().replace(cluster.url, "http://127.0.0.1:1"))
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "service", "list", "-o", "plain"]
    listed = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, "KUBECONFIG": str(gone)}
    )
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "diabetes" in listed.stdout and "Unhealthy" in listed.stdout


def test_export_writes_manifests_kubectl_accepts(
    docker_client: Any,
    workspace: Workspace,
    model: Model,
    project: Path,
    tmp_path: Path,
) -> None:
    (project / "echo.py").write_text(ECHO)
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "deploy", "exported",
               "-m", "my_best_model", "--entry-script", "echo.py", "--target", "kubernetes", "--replicas", "2",
               "--export", str(tmp_path / "manifests")]  # fmt: skip
    exported = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr
    files = sorted((tmp_path / "manifests").glob("*.yaml"))
    assert [path.name for path in files] == ["01-secret-exported-config.yaml", "02-deployment-exported.yaml",
                                             "03-service-exported.yaml"]  # fmt: skip
    for path in files:
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), KUBERNETES_VERSION, strict=True)
    deployment = yaml.safe_load(files[1].read_text())
    assert deployment["spec"]["replicas"] == 2
    server = json.loads(yaml.safe_load(files[0].read_text())["stringData"]["server.json"])
    assert server["entry_script"] == "/var/azureml-app/echo.py" and len(server["auth_keys"]) == 2


def test_keda_scaled_object_is_applied_and_deleted(
    docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    service = _deploy(workspace, model, project, keda_prometheus_url="http://prometheus.monitoring:9090")
    service.wait_for_deployment()
    objects = cluster.cluster.objects
    assert ("scaledobjects", "ml", "diabetes") in objects
    assert ("horizontalpodautoscalers", "ml", "diabetes") not in objects
    service.delete()
    assert ("scaledobjects", "ml", "diabetes") not in objects


def test_an_update_that_switches_the_autoscaler_leaves_only_the_new_one(
    docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    objects = cluster.cluster.objects
    hpa, keda = ("horizontalpodautoscalers", "ml", "diabetes"), ("scaledobjects", "ml", "diabetes")
    service = _deploy(workspace, model, project)
    service.wait_for_deployment()
    assert hpa in objects and keda not in objects
    service.update(deployment_config={"keda_prometheus_url": "http://prometheus.monitoring:9090"})
    assert keda in objects and hpa not in objects
    service.update(deployment_config={"keda_prometheus_url": None, "autoscale_enabled": False})
    assert keda not in objects and hpa not in objects
    assert objects[("deployments", "ml", "diabetes")]["spec"]["replicas"] >= 1
    service.update(deployment_config={"autoscale_enabled": True})
    assert hpa in objects and keda not in objects


def test_the_image_is_pushed_to_a_real_registry_and_pulled_back_by_digest(
    docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    with running_registry(tmp_path) as registry:
        service = _deploy(workspace, model, project, registry=registry)
        service.wait_for_deployment()
        image = cluster.cluster.objects[("deployments", "ml", "diabetes")]["spec"]["template"]["spec"]["containers"][0]
        reference = image["image"]
        repository, _, digest = reference.partition("@")
        assert repository.startswith(f"{registry}/mldeploy/") and digest.startswith("sha256:"), reference
        with urllib.request.urlopen(f"http://{registry}/v2/_catalog") as catalog:
            assert repository.removeprefix(f"{registry}/") in json.load(catalog)["repositories"]
        for tag in docker_client.images.get(reference).tags:  # every local copy gone: the pull must fetch it
            docker_client.images.remove(tag)
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(reference)
        pulled = docker_client.images.pull(repository, tag=digest)
        assert reference in pulled.attrs["RepoDigests"]
        docker_client.images.remove(reference)


def test_a_push_to_an_unreachable_registry_says_what_to_fix(
    docker_client: Any, cluster: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    with pytest.raises(WebserviceException) as failure:
        _deploy(workspace, model, project, registry="127.0.0.1:1")
    assert "Pushing 127.0.0.1:1/mldeploy/" in str(failure.value) and "docker login 127.0.0.1:1" in str(failure.value)
    assert not (workspace.path / "services" / "diabetes").exists()
