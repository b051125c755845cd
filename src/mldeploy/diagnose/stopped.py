"""Why a local service's server is not running: it became healthy, then ended (the signal or exit code and when,
as its watcher recorded it, and whether the machine restarted since), or it stopped before it ever became
healthy (a start-up failure: the server's own report)."""

import datetime
import signal
from pathlib import Path
from typing import Any

from ..targets.base import failure_message
from ..wording import phrase
from ..workspace.services import ServiceRecord

SIGNAL_CAUSES = {
    "SIGKILL": "killed: by the kernel for lack of memory (OOM), or with kill -9",
    "SIGTERM": "asked to stop: by a shutdown of the machine, or with kill",
    "SIGINT": "interrupted",
    "SIGSEGV": "a crash in native code",
    "SIGABRT": "aborted by native code",
}
LOG_LINES = 15


def boot_time() -> float | None:
    """When this machine last started, as a Unix time."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    return next((float(line.split()[1]) for line in lines if line.startswith("btime ")), None)


def ended(code: int) -> str:
    """How a process ended, from its return code (negative: the signal that ended it)."""
    if code == 0:
        return "stopped cleanly, as asked (it received SIGTERM or SIGINT: a shutdown of the machine, or kill)"
    if code > 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"was ended by signal {-code}"
    cause = SIGNAL_CAUSES.get(name)
    return f"was ended by signal {name}" + (f" ({cause})" if cause else "")


def _when(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _healthy_since(record: ServiceRecord, status: dict[str, Any] | None) -> float | None:
    """When the server last became healthy (its last start or reload); None when it never did."""
    if status is None or (status.get("state") != "ready" and int(status.get("generation", 0)) <= 1):
        return None
    try:
        return record.status_file.stat().st_mtime
    except OSError:
        return None


def _what_happened(outcome: dict[str, Any] | None, since: float) -> list[str]:
    booted = boot_time()
    if outcome is None:
        if booted is not None and booted > since:
            return [f"The machine restarted at {_when(booted)}; the server has not been started since."]
        return ["Its server stopped without a recorded exit (its whole process group was killed, e.g. kill -9)."]
    at = float(outcome["at"])
    stopped = f"Its server {ended(int(outcome['code']))} at {_when(at)}, after {_duration(at - since)}."
    if outcome.get("stop_signals") and int(outcome["code"]) == 0:
        stopped = f"Its server was asked to stop ({', '.join(outcome['stop_signals'])}) at {_when(at)}, and did."
    restarted = [f"The machine restarted at {_when(booted)}, since."] if booted is not None and booted > at else []
    return [stopped, *restarted]


def explain(record: ServiceRecord, log: str) -> str:
    """Why the server of ``record`` is not running, with the evidence and the fix."""
    status = record.status()
    outcome = record.exit_status()
    since = _healthy_since(record, status)
    if since is None:
        how = f": its server {ended(int(outcome['code']))}" if outcome else ""
        headline = f"Service {record.name!r} stopped before it became healthy{how}."
        return failure_message(record, status.get("report") if status else None, log, headline)
    start = phrase(
        api=f"ws.webservices[{record.name!r}].start()",
        cli=f"mldeploy service start {record.name} (every stopped service: mldeploy service start --all)",
    )
    tail = log.splitlines()[-LOG_LINES:]
    return "\n".join(
        [
            f"Service {record.name!r} was healthy (since {_when(since)}, its last start or reload), then stopped.",
            *_what_happened(outcome, since),
            "Last log lines:",
            *(f"  {line}" for line in tail),
            f"Fix: start it again: {start}.",
        ]
    )
