"""Diagnosis rules over the cluster's own state: each failure mode of the seed, from realistic pod and event
objects, with its cause, evidence and fix; and no diagnosis for a healthy service."""

import datetime

from mldeploy.diagnose.model import ClusterState
from mldeploy.diagnose.rules import diagnose
from tests.clusters.cluster_objects import APPLIED, INIT_FAILED_LOG, event, pod, waiting


def _state(pods, events=(), minutes=1.0, logs=None) -> ClusterState:  # type: ignore[no-untyped-def]
    now = APPLIED + datetime.timedelta(minutes=minutes)
    return ClusterState(list(pods), list(events), APPLIED, now, logs or {})


def test_a_healthy_service_has_no_diagnosis() -> None:
    running = {"name": "scoring", "ready": True, "restartCount": 0, "state": {"running": {}}}
    assert diagnose(_state([pod("diabetes-1", statuses=[running])])) == []


def test_insufficient_gpu_names_the_resource_and_the_seeds_three_fixes() -> None:
    pending = pod("diabetes-1", phase="Pending", requests={"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "1"})
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available."
    [found] = diagnose(_state([pending], [event("FailedScheduling", message)], minutes=2))
    assert not found.fatal and "insufficient nvidia.com/gpu" in found.cause
    assert "nvidia.com/gpu: each pod asks for 1; 3 of 3 nodes do not have that much free." in found.evidence
    text = found.render()
    assert "GPU node pool" in text and "GPU SKU" in text and "gpu_cores=0" in text


def test_after_five_minutes_unscheduled_the_deployment_fails_with_v1s_message() -> None:
    pending = pod("diabetes-1", phase="Pending", requests={"cpu": "8", "memory": "512Mi"})
    message = "0/2 nodes are available: 2 Insufficient cpu."
    [found] = diagnose(_state([pending], [event("FailedScheduling", message)], minutes=5.5))
    assert found.fatal
    assert found.cause.startswith(
        "Couldn't Schedule because the kubernetes cluster didn't have available resources after trying for 00:05:00"
    )
    assert "cpu: each pod asks for 8; 2 of 2 nodes do not have that much free." in found.evidence
    assert any("cpu_cores" in line for line in found.fix)


def test_crash_loop_shows_init_traceback_from_the_previous_container() -> None:
    looping = pod("diabetes-1", statuses=[waiting("CrashLoopBackOff", restarts=4,
                                                  last={"reason": "Error", "exitCode": 3})])  # fmt: skip
    [found] = diagnose(_state([looping], logs={"diabetes-1": INIT_FAILED_LOG}))
    assert "CrashLoopBackOff" in found.cause
    text = found.render()
    assert "after 4 restart(s)" in text
    assert "init() failed in /var/azureml-app/score.py, line 12, in init" in text
    assert "FileNotFoundError" in text and "build model paths from AZUREML_MODEL_DIR." in found.fix


def test_oom_killed_says_how_to_get_the_memory_to_ask_for() -> None:
    killed = pod("diabetes-1", limits={"cpu": "100m", "memory": "512Mi"}, statuses=[
        waiting("CrashLoopBackOff", restarts=3, last={"reason": "OOMKilled", "exitCode": 137})])  # fmt: skip
    log = "x mldeploy.worker - Booting worker with pid: 7\n" * 2
    found = diagnose(_state([killed], logs={"diabetes-1": log}))
    assert found[0].cause.startswith("The containers run out of memory (OOMKilled)")
    text = found[0].render()
    assert "OOMKilled" in text and "512Mi" in text and "appears 2 times" in text and "memory_gb=1 is twice" in text


def test_image_pull_backoff_names_the_registry() -> None:
    stuck = pod("diabetes-1", phase="Pending", statuses=[waiting(
        "ImagePullBackOff", message='Back-off pulling image "registry.example/mldeploy/diabetes:1"')])  # fmt: skip
    [found] = diagnose(_state([stuck], [event("Failed", "Failed to pull image: unauthorized")]))
    assert "registry.example" in found.cause and "ImagePullBackOff" in found.cause
    assert any("imagePullSecret" in line for line in found.fix)
