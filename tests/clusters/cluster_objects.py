"""Realistic Kubernetes objects (as the API returns them, camelCase) for a service's pods and events."""

import datetime
from typing import Any

APPLIED = datetime.datetime(2026, 11, 24, 10, 0, 0, tzinfo=datetime.UTC)


def pod(name: str, phase: str = "Running", statuses: list[dict[str, Any]] | None = None,
        requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    requests = requests or {"cpu": "100m", "memory": "512Mi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"mldeploy.io/service": "diabetes"}},
        "spec": {"containers": [{"name": "scoring", "image": "registry.example/mldeploy/diabetes:1",
                                 "resources": {"requests": requests, "limits": limits or requests}}]},
        "status": {"phase": phase, "containerStatuses": statuses or []},
    }  # fmt: skip


def waiting(reason: str, restarts: int = 0, message: str = "", last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "scoring",
        "image": "registry.example/mldeploy/diabetes:1",
        "imageID": "",
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {"terminated": last} if last else {},
    }


def event(reason: str, message: str, kind: str = "Warning") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "type": kind, "reason": reason, "message": message,
            "involvedObject": {"kind": "Pod", "name": "diabetes-7d9c-abcde"}}  # fmt: skip


INIT_FAILED_LOG = """\
2026-11-24 10:00:03,120 I [7] mldeploy.worker - Booting worker with pid: 7
2026-11-24 10:00:03,400 E [1] mldeploy.server - The scoring script could not start; the server stops.
2026-11-24 10:00:03,401 E [1] mldeploy.server - init() failed in /var/azureml-app/score.py, line 12, in init
2026-11-24 10:00:03,401 E [1] mldeploy.server -   model = joblib.load(path)
2026-11-24 10:00:03,401 E [1] mldeploy.server - FileNotFoundError: [Errno 2] No such file or directory: 'model.pkl'
2026-11-24 10:00:03,402 E [1] mldeploy.server - Fix: build model paths from AZUREML_MODEL_DIR.
"""
