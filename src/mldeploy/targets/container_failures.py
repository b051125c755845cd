"""Why a Docker service's container is not serving, in words with the fix, and what becomes of it: a crash
loop (for lack of memory, measured in a probe container, or the server's own report), a server stopped as
asked, a container gone; a permanent failure is not restarted again (it would only hold its CPU and memory),
any other keeps restarting, and the report says what it holds and how to free it."""

import contextlib
import time
from typing import Any

from ..diagnose.containers import BOOT_LINE
from ..scoring.config import ServerConfig
from ..wording import phrase
from ..workspace.services import ServiceRecord
from . import service_containers as containers
from .base import DeploymentError, failure_message
from .capacity import GIB, host_capacity
from .container_policy import service_user
from .memory_probe import measure_peak, memory_to_ask
from .service_containers import COMMAND, MOUNT, limits

CRASH_LOOP_RESTARTS = 2
LOG_LINES = 15  # quoted when the server was stopped


def stop_restarting(record: ServiceRecord, container: Any) -> bool:
    """Stop restarting ``container`` when its server failed for good (``failed_for_good``), as a local server
    stops: every restart would fail alike, holding its CPU and memory. True when it failed so."""
    from docker.errors import APIError

    if not failed_for_good(containers.status(record, container)):
        return False
    if container.attrs["HostConfig"]["RestartPolicy"]["Name"] != "no":
        with contextlib.suppress(APIError):  # removed meanwhile
            container.update(restart_policy={"Name": "no"})
    return True


def what_becomes(client: Any, record: ServiceRecord, container_id: str) -> str | None:
    """What becomes of the service's container that failed: not restarted when it failed for good, else
    restarted again and again, holding its CPU and memory (and how to free them); None when neither."""
    container = containers.refresh(client, container_id)
    if container is None:
        return None
    fixed = phrase(api="service.update(...) or service.reload()", cli=f"mldeploy service update {record.name} "
                   f"... or mldeploy service reload {record.name}")  # fmt: skip
    if stop_restarting(record, container):
        return (
            "The failure is permanent (every restart would fail alike), so the container is not restarted again: "
            f"once stopped, it holds no CPU or memory. Once the cause is fixed: {fixed}."
        )
    if container.attrs["State"]["Restarting"] or int(container.attrs["RestartCount"]) >= CRASH_LOOP_RESTARTS:
        cpu_cores, memory_gb = limits(record.deployment_config)
        delete = phrase(api="service.delete()", cli=f"mldeploy service delete {record.name}")
        return (
            "The container keeps restarting (Docker waits longer each time, up to a minute) and holds "
            f"{cpu_cores:g} CPU and {memory_gb:g} GB of this host meanwhile, which no other deployment can have. "
            f"Free them: {delete}; or fix the cause: {fixed}."
        )
    return None


def crash_loop(client: Any, record: ServiceRecord, container: Any, report: Any) -> str:
    """A crash loop: for lack of memory (the engine saw OOM kills), else the server's own report."""
    log = logs_of(container, 5000)
    restarts = int(container.attrs["RestartCount"])
    oom_kills = _oom_kills(client, container, record.started)
    if oom_kills:
        config = ServerConfig.from_file(str(containers.config_file(record, container)))
        return _memory_message(client, record, config, oom_kills, log.count(BOOT_LINE), restarts)
    headline = (
        f"Service {record.name!r} is in CrashLoopBackOff: init() failed and the container was restarted "
        f"{restarts} times, each after a longer wait."
    )
    return failure_message(record, report, log, headline)


def _oom_kills(client: Any, container: Any, since: float) -> int:
    """How many times the kernel killed a process of this container for memory since it was created."""
    events = client.events(
        since=int(since) - 1, until=int(time.time()) + 1, filters={"container": container.id, "event": "oom"},
        decode=True,
    )  # fmt: skip
    return sum(1 for _ in events)


def _memory_message(
    client: Any, record: ServiceRecord, config: ServerConfig, oom_kills: int, boots: int, restarts: int
) -> str:
    _, memory_gb = limits(record.deployment_config)
    lines = [
        f"Service {record.name!r} is in CrashLoopBackOff: not enough memory. The kernel killed the worker "
        f"{oom_kills} time(s) for lack of memory (OOM) while init() was loading; 'Booting worker with pid' appears "
        f"{boots} times in the log and the container was restarted {restarts} times.",
        f"{phrase(api='memory_gb=', cli='--memory ')}{memory_gb:g} gives the container {memory_gb * 1024:.0f} MiB.",
    ]
    assert record.image is not None
    probe_limit = int(host_capacity(client).free_memory_gb * GIB * 0.8)
    peak = measure_peak(client, record.image, COMMAND, MOUNT, config, probe_limit, service_user(record.uid))
    update = f"mldeploy service update {record.name} --memory"
    if peak is None:
        more = phrase(api="increase memory_gb in the deployment configuration", cli=f"give it more: {update} GB")
        lines.append(f"Fix: {more} (a probe without the limit did not finish init() either; check the log).")
    else:
        ask = memory_to_ask(peak)
        api = (f"ask for memory_gb={ask:g} (the peak plus 25 %): service.update(deployment_config="
               f"AciWebservice.deploy_configuration(memory_gb={ask:g})), or deploy again with it.")  # fmt: skip
        lines += [
            f"Measured in a probe container without that limit, the service peaks at {peak / 2**20:.0f} MiB "
            "while init() runs.",
            f"Fix: {phrase(api=api, cli=f'ask for {ask:g} GB (the peak plus 25 %): {update} {ask:g}')}",
        ]
    lines.append(f"Full log: {phrase(api='service.get_logs()', cli=f'mldeploy service logs {record.name}')}")
    return "\n".join(lines)


def logs_of(container: Any, num_lines: int) -> str:
    return bytes(container.logs(tail=num_lines)).decode(errors="replace")


def failed_for_good(status: dict[str, Any] | None) -> bool:
    """The server's first generation failed (so the server ended; a later one's leaves the old workers serving)
    in a way every try repeats: score.py does not import, a legacy breakage, another frame protocol."""
    report = (status or {}).get("report") or {}
    return bool(status and status["state"] == "failed" and status["generation"] == 1 and report.get("permanent"))


def ended(record: ServiceRecord, container: Any, report: dict[str, Any] | None) -> str:
    """Why ``container`` is not running: it was stopped (its server ended cleanly, as asked), or it failed."""
    state = container.attrs["State"]
    log = logs_of(container, 30)
    if state["ExitCode"] != 0:
        return failure_message(record, report, log)
    start = phrase(api="service.start()", cli=f"mldeploy service start {record.name}")
    tail = "\n".join(f"  {line}" for line in log.splitlines()[-LOG_LINES:])
    when = str(state["FinishedAt"])[:19].replace("T", " ")
    return (
        f"Service {record.name!r} was stopped: its server ended cleanly, as asked (SIGTERM: docker stop, or a stop "
        f"of the Docker engine or of the machine), at {when} UTC.\nLast log lines:\n{tail}\nFix: start it again: "
        f"{start}."
    )


def gone(record: ServiceRecord) -> DeploymentError:
    again = phrase(api="service.start()", cli=f"mldeploy service start {record.name}")
    return DeploymentError(f"The container of {record.name!r} is gone; start it again (from its image): {again}.")
