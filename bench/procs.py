"""Resident memory and CPU time of a server's front process and of its worker processes, read from /proc."""

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


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
    per_worker = total / expected_workers if expected_workers else 0.0
    return Memory(front_mib=_rss_mib(front_pid), per_worker_mib=per_worker, worker_pids=workers)


@dataclass(frozen=True)
class CpuTime:
    """User + system CPU seconds of a front and of its workers (over an interval: a difference of two reads)."""

    front_s: float
    workers_s: float

    def __sub__(self, earlier: "CpuTime") -> "CpuTime":
        return CpuTime(self.front_s - earlier.front_s, self.workers_s - earlier.workers_s)

    @property
    def total_s(self) -> float:
        return self.front_s + self.workers_s


def cpu_time_of(front_pid: int, workers: tuple[int, ...]) -> CpuTime:
    """CPU seconds used so far by the front and by ``workers`` (a process gone since counts 0)."""
    return CpuTime(_cpu_s(front_pid), sum(_cpu_s(pid) for pid in workers))


def descendants(pid: int) -> tuple[int, ...]:
    """Every process below ``pid`` (children, their children, ...)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        children = _children(pending.pop())
        found += children
        pending += children
    return tuple(found)


def rss_of_tree_mib(pid: int) -> float:
    return sum(_rss_mib(each) for each in (pid, *descendants(pid)))


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


def _cpu_s(pid: int) -> float:
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S  # utime, stime: fields 14 and 15 of stat


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
