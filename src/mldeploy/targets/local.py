"""The local target: the scoring server as a detached process group on 127.0.0.1, state under the workspace."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..diagnose import stopped
from ..environments.venv import python_of
from ..scoring.config import ServerConfig
from ..wording import phrase
from ..workspace.blobs import BlobStore
from ..workspace.services import CONFIG_NAME, ServiceRecord
from . import app_folder, base
from .base import DeploymentError, Plan, Progress, ServiceState, failure_message, healthy, post_direct
from .server_limits import scoring_limits

SERVER = b"mldeploy.scoring"
WATCHER = b"mldeploy.targets.watcher"
POLL_S = 0.05
STOP_GRACE_S = 15.0
SETTLE_S = 2.0
LISTEN_TIMEOUT_S = 60.0  # the server binds its port first thing; past this, wait() reports what became of it
LOG_LINES = 20  # quoted when the server stops
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp
SOCKET_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


class PortInUse(DeploymentError):
    """The service's port is taken by another process (checked before starting, or lost to it while starting)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            choose = phrase(api="LocalWebservice.deploy_configuration(port=...)", cli="--port")
            raise PortInUse(
                f"Port {port} is already in use on 127.0.0.1. Choose another with {choose}, or leave it out to get "
                "a free one."
            ) from None


def _alive(pid: int | None, argument: bytes) -> bool:
    """The process exists and is not a zombie, and is still the one meant: ``argument`` is one of its command
    line's arguments (a process id is given to another process once its own has ended)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and argument in command.split(b"\0")


def _serving(record: ServiceRecord) -> bool:
    """The service's server runs: its recorded pid runs this service's config, not another service's server
    that was given the same pid after this one ended (pid_max can be 32,768: process ids come round again)."""
    return _alive(record.pid, _config_argument(record.path))


def _config_argument(folder: Path) -> bytes:
    """The server's last command line argument: the config of the service in ``folder``, its record's
    ``config_file`` (``_launch`` starts it with this argument)."""
    return os.fsencode(folder / CONFIG_NAME)


def _watcher_of(pid: int) -> int | None:
    """The watcher that started server ``pid`` and records its exit (none for servers started without one)."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return parent if _alive(parent, WATCHER) else None


def _listening_sockets(port: int) -> set[str]:
    """The sockets listening on ``port`` (any local address), as /proc/<pid>/fd names them: ``socket:[inode]``."""
    suffix = f":{port:04X}"
    found = set()
    for table in SOCKET_TABLES:
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for fields in (row.split() for row in rows):
            if fields[1].endswith(suffix) and fields[3] == LISTEN:
                found.add(f"socket:[{fields[9]}]")
    return found


def _open_files(pid: int) -> Iterator[str]:
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return
    for descriptor in descriptors:
        try:
            yield os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue


def _listens(pid: int, port: int) -> bool:
    """``pid`` itself holds the socket listening on ``port`` (not merely: something answers there)."""
    sockets = _listening_sockets(port)
    return bool(sockets) and any(name in sockets for name in _open_files(pid))


def stop_strays(folder: Path) -> None:
    """Stop the scoring servers started from ``folder``'s config that no record tracks (their deployer was killed
    between starting them and saving the record), before the folder is removed."""
    config = _config_argument(folder)
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if SERVER in command and config in command:
            _stop_group(int(entry.name), config)


def _stop_group(pid: int, config: bytes) -> None:
    """Stop a server (of ``config``), its workers and its watcher (their process group), gracefully first; return
    once the server and its watcher (which records the exit in the service's folder) are gone."""
    if not _alive(pid, config):
        return
    group = os.getpgid(pid)
    if group == os.getpgid(0):
        return  # never this process's own group: such a server was not started as a service
    watcher = _watcher_of(pid)
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while (_alive(pid, config) or _alive(watcher, WATCHER)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if _alive(pid, config) or _alive(watcher, WATCHER):
        os.killpg(group, signal.SIGKILL)


def _settle(record: ServiceRecord) -> None:
    """After the server ended: let its watcher finish recording how (it exits right after)."""
    deadline = time.monotonic() + SETTLE_S
    while _alive(record.watcher, WATCHER) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def _launch(record: ServiceRecord) -> tuple[int, int]:
    """Start the server under its watcher, detached (both outlive this process); their pids."""
    request = {
        "command": [record.python or sys.executable, "-m", "mldeploy.scoring", str(record.config_file)],
        "cwd": str(record.app_root),
        "log": str(record.log_file),
        "folder": str(record.path),
    }
    with open(record.log_file, "ab") as log:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "mldeploy.targets.watcher"], cwd="/", stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, start_new_session=True,
        )  # fmt: skip
    assert watcher.stdin is not None and watcher.stdout is not None
    with watcher.stdin, watcher.stdout:
        watcher.stdin.write(json.dumps(request).encode() + b"\n")
        watcher.stdin.flush()
        answer = json.loads(watcher.stdout.readline() or b'{"error": "its watcher stopped (see the log)"}')
    if "error" in answer:
        rebuild = phrase(
            api="service.update(inference_config=...)",
            cli=f"mldeploy service update {record.name} --entry-script SCRIPT --conda-file FILE",
        )
        raise DeploymentError(
            f"The scoring server of {record.name!r} could not be started: {answer['error']}. If its environment was "
            f"removed, build it again: {rebuild}."
        )
    return int(answer["pid"]), watcher.pid


class LocalTarget:
    def admit(self, settings: dict[str, Any], port: int, current: ServiceRecord | None) -> None:
        if current is None:
            check_port(port)

    def prepare(self, blobs: BlobStore, record: ServiceRecord, plan: Plan, progress: Progress) -> ServerConfig:
        """Build the environment (a virtual environment) and lay out the app folder of ``record.revision``."""
        limits = scoring_limits(plan.settings)
        if plan.build_environment is not None:
            environment = plan.build_environment(progress)
            record.python = str(python_of(environment)) if environment else None
        progress("laying out the app folder")
        shutil.rmtree(record.app_root, ignore_errors=True)
        script, source = app_folder.resolve_entry_script(plan.entry_script, plan.source_directory)
        entry = app_folder.copy_code(record.app_root, script, source)
        app_folder.copy_models(record.app_root, blobs, plan.models)
        return ServerConfig(
            entry_script=str(entry),
            app_root=str(record.app_root),
            model_dir=app_folder.model_dir(plan.models) if plan.models else None,
            port=record.port,
            workers=int(plan.settings.get("workers") or 1),
            debug_errors=bool(plan.settings.get("debug_errors", False)),
            legacy_compat=bool(plan.settings.get("legacy_compat", False)),
            **limits,
            python=record.python,
            status_file=str(record.status_file),
            spare_worker=True,
        )

    def apply(self, record: ServiceRecord, config: ServerConfig) -> int:
        """A rolling reload: the server reads its config file again; the old workers serve until the new are
        ready. A server that is not running (it failed, or stopped) is started with ``config``."""
        if not _serving(record):
            self.start(record, config)
            return 0
        record.write_config(config)
        record.save()
        return self.signal_reload(record)

    def reload(self, record: ServiceRecord) -> int:
        try:
            script, source = app_folder.resolve_entry_script(record.entry_script, record.source_directory)
        except FileNotFoundError as error:
            raise DeploymentError(str(error)) from None
        app_folder.copy_code(record.app_root, script, source)
        if not _serving(record):
            self.start(record, ServerConfig.from_file(str(record.config_file)))
            return 0
        return self.signal_reload(record)

    def start(self, record: ServiceRecord, config: ServerConfig) -> None:
        """Write the server's config and start it, detached (it outlives this process); return once it listens
        on its port, or has stopped (wait() reports why). PortInUse when another process took the port first."""
        record.write_config(config)
        record.status_file.unlink(missing_ok=True)
        record.exit_file.unlink(missing_ok=True)
        record.pid, record.watcher = _launch(record)
        record.save()
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while not _listens(record.pid, record.port) and time.monotonic() < deadline:
            if not _serving(record):
                check_port(record.port)
                return
            time.sleep(POLL_S)

    def running(self, record: ServiceRecord) -> bool:
        return _serving(record)

    def post(self, record: ServiceRecord, body: bytes) -> tuple[int, bytes]:
        return post_direct(record, body)

    def state(self, record: ServiceRecord) -> ServiceState:
        """Stopped when the server ended cleanly, as asked (exit 0: SIGTERM, SIGINT); Failed when it ended otherwise
        or its end was not recorded (its whole group killed)."""
        if not _serving(record):
            _settle(record)
            outcome = record.exit_status()
            return ServiceState.STOPPED if outcome and outcome["code"] == 0 else ServiceState.FAILED
        if healthy(record.port):
            return ServiceState.HEALTHY
        status = record.status()
        return ServiceState.FAILED if status and status["state"] == "failed" else ServiceState.TRANSITIONING

    def wait(self, record: ServiceRecord, timeout_s: float, progress: Progress, generation: int = 0) -> None:
        """Until the server (generation > ``generation`` after a reload) is ready; DeploymentError when it fails
        or is not running (why: a start-up failure, or how and when it ended after serving)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            status = record.status()  # read first: a server whose init() failed reports it, then exits
            new = bool(status) and status["generation"] > generation
            if new and status["state"] == "failed":
                raise DeploymentError(failure_message(record, status.get("report"), self.logs(record, LOG_LINES)))
            if not _serving(record):
                if not record.path.exists():
                    raise DeploymentError(
                        f"Service {record.name!r} was deleted (by another process) before it became healthy."
                    )
                _settle(record)
                raise DeploymentError(stopped.explain(record, self.logs(record, LOG_LINES)))
            if new and healthy(record.port):
                return
            progress(f"waiting for init() ({time.monotonic() - started:.0f} s)")
            time.sleep(POLL_S)
        logs = phrase(api=f"ws.webservices[{record.name!r}].get_logs()", cli=f"mldeploy service logs {record.name}")
        raise DeploymentError(
            f"Service {record.name!r} was not healthy after {timeout_s:.0f} s (init() still running?); see its log: "
            f"{logs}."
        )

    def logs(self, record: ServiceRecord, num_lines: int) -> str:
        try:
            lines = record.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-num_lines:])

    def signal_reload(self, record: ServiceRecord) -> int:
        """Ask the server to replace its workers; the generation the new workers must pass."""
        if not _serving(record):
            raise base.not_running(record)
        status = record.status()
        generation = status["generation"] if status else 0
        os.kill(record.pid, signal.SIGHUP)  # type: ignore[arg-type]
        return generation

    def stop(self, record: ServiceRecord) -> None:
        if record.pid is not None:
            _stop_group(record.pid, _config_argument(record.path))
