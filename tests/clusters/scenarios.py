"""What the FAKE cluster does when a Deployment is applied: the pods, events and logs a real cluster shows
for a healthy rollout and for each failure mode of the seed."""

import datetime
from typing import Any

from tests.clusters.cluster_objects import INIT_FAILED_LOG
from tests.clusters.fake_api import FakeCluster

BOOT_LOG = "2026-11-24 10:00:01,000 I [7] mldeploy.worker - Booting worker with pid: 7\n"


def _pods(cluster: FakeCluster, deployment: dict[str, Any], phase: str, statuses: list[dict[str, Any]]) -> list[str]:
    namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    template = deployment["spec"]["template"]
    for key in [key for key in cluster.objects if key[0] == "pods" and key[1] == namespace]:
        del cluster.objects[key]
    names = []
    for number in range(deployment["spec"]["replicas"]):
        pod_name = f"{name}-{deployment['metadata']['generation']}-{number}"
        metadata = {"name": pod_name, "namespace": namespace, "labels": template["metadata"]["labels"]}
        status = {"phase": phase, "containerStatuses": statuses}
        cluster.put("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"],
                             "status": status})  # fmt: skip
        names.append(pod_name)
    return names


def _status(deployment: dict[str, Any], ready: int) -> None:
    replicas = deployment["spec"]["replicas"]
    deployment["status"] = {"observedGeneration": deployment["metadata"]["generation"], "replicas": replicas,
                            "updatedReplicas": replicas, "readyReplicas": ready}  # fmt: skip


def _container(state: dict[str, Any], restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "scoring", "image": "registry.example/mldeploy/diabetes:1", "imageID": "", "containerID": "",
            "ready": "running" in state, "restartCount": restarts, "state": state,
            "lastState": {"terminated": last} if last else {}}  # fmt: skip


def healthy(cluster: FakeCluster, deployment: dict[str, Any]) -> None:
    for name in _pods(cluster, deployment, "Running", [_container({"running": {"startedAt": "2026-11-24T10:00:00Z"}})]):
        cluster.logs[(name, False)] = BOOT_LOG + "2026-11-24 10:00:02,000 I [7] mldeploy.worker - Worker ready\n"
    _status(deployment, deployment["spec"]["replicas"])


def crash_loop(cluster: FakeCluster, deployment: dict[str, Any]) -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}
    for name in _pods(cluster, deployment, "Running", [_container(waiting, 3, {"reason": "Error", "exitCode": 3})]):
        cluster.logs[(name, True)] = INIT_FAILED_LOG
    _status(deployment, 0)


def out_of_memory(cluster: FakeCluster, deployment: dict[str, Any]) -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}}
    for name in _pods(cluster, deployment, "Running", [_container(waiting, 2, {"reason": "OOMKilled", "exitCode": 3})]):
        cluster.logs[(name, True)] = BOOT_LOG * 3
    _status(deployment, 0)


def unschedulable(cluster: FakeCluster, deployment: dict[str, Any]) -> None:
    """Pending for six minutes already: no node has a free GPU."""
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6)
    deployment["metadata"]["creationTimestamp"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in _pods(cluster, deployment, "Pending", []):
        cluster.add_event(deployment["metadata"]["namespace"], name, "FailedScheduling",
                          "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
                          "available: 3 No preemption victims found for incoming pod.")  # fmt: skip
    _status(deployment, 0)


def image_pull(cluster: FakeCluster, deployment: dict[str, Any]) -> None:
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
    statuses = [{**_container(waiting), "image": image}]
    for name in _pods(cluster, deployment, "Pending", statuses):
        cluster.add_event(deployment["metadata"]["namespace"], name, "Failed",
                          f'Failed to pull image "{image}": pull access denied, repository does not exist')  # fmt: skip
    _status(deployment, 0)
