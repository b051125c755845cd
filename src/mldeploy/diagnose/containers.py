"""Containers that do not stay up: CrashLoopBackOff (init() failed: the traceback from the previous
container's log), OOMKilled (the memory to ask for) and ImagePullBackOff (the registry to fix)."""

import math
import re

from ..wording import phrase
from .model import ClusterState, Diagnosis, container_limits, pod_name

REPORT_LINE = re.compile(r"mldeploy\.server - (.*)$")
TRACEBACK_LINES = 8
PULL_REASONS = ("ImagePullBackOff", "ErrImagePull")
BOOT_LINE = "Booting worker with pid"


def _waiting(state: ClusterState, reasons: tuple[str, ...]) -> list[tuple[dict, dict]]:  # type: ignore[type-arg]
    return [(pod, status) for pod, status in state.container_statuses()
            if status.get("state", {}).get("waiting", {}).get("reason") in reasons]  # fmt: skip


def _last_terminated(status: dict) -> dict:  # type: ignore[type-arg]
    return dict(status.get("lastState", {}).get("terminated") or {})


def out_of_memory(state: ClusterState) -> Diagnosis | None:
    killed = [(pod, status) for pod, status in state.container_statuses()
              if _last_terminated(status).get("reason") == "OOMKilled"]  # fmt: skip
    if not killed:
        return None
    pod = killed[0][0]
    limit = container_limits(pod).get("memory", "?")
    restarts = sum(int(status.get("restartCount", 0)) for _, status in killed)
    boots = state.previous_logs.get(pod_name(pod), "").count(BOOT_LINE)
    evidence = [
        f"{len(killed)} pod(s) had their container killed for memory (OOMKilled), e.g. {pod_name(pod)}; "
        f"{restarts} restart(s) in all.",
        f"The memory limit is {limit} " + phrase(api="(memory_gb_limit, else memory_gb).", cli="(--memory)."),
    ]
    if boots:
        evidence.append(f"'{BOOT_LINE}' appears {boots} times in the previous container's log.")
    doubled = _doubled_gb(limit)
    fix = [
        phrase(
            api="raise memory_gb (and memory_gb_limit) in AksWebservice.deploy_configuration"
            + (f": memory_gb={doubled} is twice the limit now" if doubled else "")
            + ", then update the service",
            cli=f"raise the memory (--memory {doubled or 'GB'} is twice the limit now): "
            f"mldeploy service update NAME --memory {doubled or 'GB'}",
        ),
        "to measure what init() needs, deploy the same model to Docker with little memory: "
        "`mldeploy deploy ... --target docker --memory 0.1` reports the peak and "
        + phrase(api="the memory_gb to ask for", cli="the --memory to ask for"),
    ]
    return Diagnosis("The containers run out of memory (OOMKilled): the worker keeps booting.", evidence, fix)


def crash_loop(state: ClusterState) -> Diagnosis | None:
    looping = _waiting(state, ("CrashLoopBackOff",))
    if not looping:
        return None
    pod, status = looping[0]
    log = state.previous_logs.get(pod_name(pod), "")
    report = [match.group(1) for line in log.splitlines() if (match := REPORT_LINE.search(line))]
    lines = [line for line in report if not line.startswith("The scoring script could not start")]
    evidence = [f"Pod {pod_name(pod)}: CrashLoopBackOff after {status.get('restartCount', 0)} restart(s)."]
    if lines:
        evidence += ["The previous container's log says:", *(f"  {line}" for line in lines[-TRACEBACK_LINES:])]
    elif log:
        evidence += ["The previous container's last log lines:", *(f"  {line}" for line in log.splitlines()[-8:])]
    fix = [line.removeprefix("Fix: ") for line in lines if line.startswith("Fix:")] or [
        "read the whole log (`mldeploy service logs NAME`), fix init() in score.py, then update the service"
    ]
    return Diagnosis("init() fails, so the container restarts again and again (CrashLoopBackOff).", evidence, fix)


def image_pull(state: ClusterState) -> Diagnosis | None:
    failing = _waiting(state, PULL_REASONS)
    if not failing:
        return None
    pod, status = failing[0]
    image = str(status.get("image", "?"))
    registry = registry_of(image)
    message = status.get("state", {}).get("waiting", {}).get("message", "")
    events = [str(event.get("message", "")) for event in state.events if event.get("reason") == "Failed"]
    evidence = [f"Pod {pod_name(pod)} cannot pull {image}: {message or 'no detail'}"]
    if events:
        evidence.append(f"Kubernetes: {events[-1]}")
    fix = [
        f"check that {image} was pushed to {registry} (`mldeploy deploy ... --registry {registry}` pushes it)",
        f"give the cluster access to {registry}: an imagePullSecret, or attach the registry to the cluster",
        "check the registry's name: the cluster must reach it under that name",
    ]
    return Diagnosis(f"The image cannot be pulled from {registry} (ImagePullBackOff).", evidence, fix)


def registry_of(image: str) -> str:
    """The registry of an image reference, as Docker reads it: a first part with a dot, a colon or
    "localhost" names one; otherwise it is Docker Hub."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def _doubled_gb(quantity: str) -> str:
    """Twice the memory of a Kubernetes quantity ("512Mi"), in GB ("1"); "" when it cannot be read."""
    number = quantity.rstrip("KMGTik")
    unit = quantity[len(number) :]
    try:
        size = float(number) * UNITS.get(unit, 1)
    except ValueError:
        return ""
    doubled = math.ceil(2 * size / 2**30 * 10) / 10
    return f"{doubled:g}"
