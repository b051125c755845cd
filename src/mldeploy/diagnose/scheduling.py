"""Pods that no node can take: FailedScheduling (which resource, asked vs what the nodes lack, the seed's
three fixes) and v1's rule that a service still unscheduled after five minutes has failed."""

import datetime
import re

from ..wording import phrase
from .model import ClusterState, Diagnosis, container_requests, pod_name

SCHEDULE_TIMEOUT = datetime.timedelta(minutes=5)
SHORT_OF = re.compile(r"(\d+) Insufficient ([\w/-]+(?:\.[\w/-]+)*)")  # "nvidia.com/gpu", not "cpu."
NODES = re.compile(r"(\d+)/(\d+) nodes are available")
FIXES = {
    "nvidia.com/gpu": [
        "add nodes to the GPU node pool (the cluster has GPU nodes but none free)",
        "switch the node pool to a GPU SKU (no node has a GPU)",
        "or change the service so that it does not ask for a GPU ({gpu_setting})",
    ],
}
DEFAULT_FIXES = [
    "add nodes to the cluster",
    "change the nodes' SKU for one with more {resource}",
    "or ask for less: {lower}",
]
SETTINGS = {  # resource: (AksWebservice.deploy_configuration argument, CLI flag)
    "cpu": ("cpu_cores", "--cpu"),
    "memory": ("memory_gb", "--memory"),
    "nvidia.com/gpu": ("gpu_cores", "--gpu"),
}


def failed_scheduling(state: ClusterState) -> Diagnosis | None:
    events = [event for event in state.events if event.get("reason") == "FailedScheduling"]
    pending = [pod for pod in state.pods if pod.get("status", {}).get("phase") == "Pending"]
    if not events or not pending:
        return None
    message = str(events[-1].get("message", ""))
    short = SHORT_OF.findall(message)
    nodes = NODES.search(message)
    waited = state.now - state.applied_at
    requests = container_requests(pending[0])
    evidence = [f"Kubernetes: {message.strip()}"]
    for count, resource in short:
        asked = requests.get(resource, "?")
        total = nodes.group(2) if nodes else "?"
        evidence.append(f"{resource}: each pod asks for {asked}; {count} of {total} nodes do not have that much free.")
    evidence.append(f"{len(pending)} pod(s) pending, e.g. {pod_name(pending[0])}; waiting for {_clock(waited)}.")
    resources = [resource for _, resource in short] or ["resources"]
    fixes = []
    for resource in resources:
        template = FIXES.get(resource, DEFAULT_FIXES)
        fixes += [line.format(resource=resource, lower=_lower(resource), gpu_setting=_no_gpu()) for line in template]
    if waited >= SCHEDULE_TIMEOUT:
        cause = (f"Couldn't Schedule because the kubernetes cluster didn't have available resources after trying "
                 f"for {_clock(SCHEDULE_TIMEOUT)}: insufficient {', '.join(resources)}.")  # fmt: skip
        return Diagnosis(cause, evidence, fixes)
    cause = f"Cannot schedule yet: insufficient {', '.join(resources)} (the deployment fails after 00:05:00)."
    return Diagnosis(cause, evidence, fixes, fatal=False)


def _lower(resource: str) -> str:
    """Where the user asks for less of ``resource``, in the reader's words."""
    setting, flag = SETTINGS.get(resource, (resource, ""))
    return phrase(
        api=f"lower {setting} in AksWebservice.deploy_configuration",
        cli=f"a smaller {flag}, then mldeploy service update NAME {flag} N" if flag else f"less {resource}",
    )


def _no_gpu() -> str:
    return phrase(api="gpu_cores=0", cli="mldeploy service update NAME --gpu 0")


def _clock(span: datetime.timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
