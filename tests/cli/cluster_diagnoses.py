"""Prints, in the CLI's words, what `mldeploy diagnose NAME` says of a Kubernetes service in each failure mode
(from the realistic cluster objects the diagnosis tests use): run as a program, so that switching this process
to CLI wording touches no other test."""

import datetime

from mldeploy.diagnose.model import ClusterState
from mldeploy.diagnose.rules import diagnose
from mldeploy.wording import use_cli_wording
from tests.clusters.cluster_objects import APPLIED, INIT_FAILED_LOG, event, pod, waiting

SEPARATOR = "\n=====\n"


def _state(pods, events=(), minutes=1.0, logs=None) -> ClusterState:  # type: ignore[no-untyped-def]
    return ClusterState(list(pods), list(events), APPLIED, APPLIED + datetime.timedelta(minutes=minutes), logs or {})


def states() -> list[ClusterState]:
    gpu = pod("diabetes-1", phase="Pending", requests={"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "1"})
    cpu = pod("diabetes-1", phase="Pending", requests={"cpu": "8", "memory": "512Mi"})
    looping = pod("diabetes-1", statuses=[waiting("CrashLoopBackOff", restarts=4, last={"reason": "Error"})])
    killed = pod("diabetes-1", limits={"cpu": "100m", "memory": "512Mi"}, statuses=[
        waiting("CrashLoopBackOff", restarts=3, last={"reason": "OOMKilled", "exitCode": 137})])  # fmt: skip
    pulling = 'Back-off pulling image "registry.example/mldeploy/diabetes:1"'
    stuck = pod("diabetes-1", phase="Pending", statuses=[waiting("ImagePullBackOff", message=pulling)])
    return [
        _state([gpu], [event("FailedScheduling", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")], 2),
        _state([cpu], [event("FailedScheduling", "0/2 nodes are available: 2 Insufficient cpu.")], 5.5),
        _state([looping], logs={"diabetes-1": INIT_FAILED_LOG}),
        _state([killed], logs={"diabetes-1": "x mldeploy.worker - Booting worker with pid: 7\n" * 2}),
        _state([stuck], [event("Failed", "Failed to pull image: unauthorized")]),
    ]


if __name__ == "__main__":
    use_cli_wording()
    print(SEPARATOR.join(found.render() for state in states() for found in diagnose(state)))
