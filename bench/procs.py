"""Resident memory of a server's front process and of its worker processes, read from /proc."""

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Memory:
    front_mib: float
    per_worker_mib: float
    worker_pids: tuple[int, ...]


def memory_of(front_pid: int, worker_marker: str, expected_workers: int) -> Memory:
    """RSS of the front and the mean RSS of its children whose command line holds ``worker_marker``."""
    workers = worker_pids(front_pid, worker_marker)
    if len(workers) != expected_workers:
        raise RuntimeError(f"expected {expected_workers} worker processes under {front_pid}, found {workers}")
    total = sum(_rss_mib(pid) for pid in workers)
    return Memory(front_mib=_rss_mib(front_pid), per_worker_mib=total / expected_workers, worker_pids=workers)


def worker_pids(front_pid: int, worker_marker: str) -> tuple[int, ...]:
    return tuple(pid for pid in _children(front_pid) if worker_marker in _cmdline(pid))


def _children(parent: int) -> list[int]:
    found = []
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces: the parent pid is the second field after its closing ')'.
        if int(text.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(stat.parent.name))
    return sorted(found)


def _rss_mib(pid: int) -> float:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
