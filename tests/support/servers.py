"""Start and stop real scoring servers on 127.0.0.1: ours (``mldeploy serve``) and the reference (``azmlinfsrv``)."""

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

SCRIPTS = Path(__file__).resolve().parent.parent / "fixtures" / "scripts"
# azmlinfsrv always binds 0.0.0.0; this runs it unchanged but for the address, 127.0.0.1.
LOOPBACK_LAUNCHER = Path(__file__).resolve().parent / "reference_loopback.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _limit_open_files(soft: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


class Server:
    """A server process with its log file; ``url`` is its base address."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        cwd: Path,
        env: dict[str, str],
        log: Path,
        open_files: int | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self.started = time.monotonic()
        with open(log, "wb") as log_file:
            self.process = subprocess.Popen(
                list(command), cwd=cwd, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=None if open_files is None else lambda: _limit_open_files(open_files),
            )  # fmt: skip

    def wait_healthy(self, timeout_s: float = 60.0, path: str = "/") -> float:
        """Seconds from start to the first 200 on GET ``path``; raises with the log when it does not come."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"server not healthy after {timeout_s} s:\n{self.log()}")

    def wait_exit(self, timeout_s: float = 60.0) -> int:
        return self.process.wait(timeout=timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _environment(model_dir: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AZUREML_", "AML_"))}
    env.pop("WORKER_COUNT", None)
    env.pop("SCORING_TIMEOUT_MS", None)
    if model_dir is not None:
        env["AZUREML_MODEL_DIR"] = model_dir
    env.update(extra or {})
    return env


def start_ours(
    script: str | Path | None,
    app_root: Path,
    log_dir: Path,
    *,
    model_dir: str | None = None,
    workers: int | None = 1,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    open_files: int | None = None,
) -> Server:
    """Our server; with ``script`` None and ``workers`` None, they come from the environment variables;
    ``open_files`` sets its soft limit of open files (RLIMIT_NOFILE) at start."""
    port = free_port()
    command = [python, "-m", "mldeploy", "serve", "--port", str(port), *args]
    if script is not None:
        command.append(str(SCRIPTS / script))
    if workers is not None:
        command += ["--workers", str(workers)]
    return Server(command, port, app_root, _environment(model_dir, env), log_dir / f"ours-{port}.log", open_files)


def start_reference(
    azmlinfsrv: Path,
    script: str | Path,
    app_root: Path,
    log_dir: Path,
    *,
    model_dir: str | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Server:
    port = free_port()
    command = [
        str(azmlinfsrv.parent / "python"),
        str(LOOPBACK_LAUNCHER),
        "--entry_script",
        str(SCRIPTS / script),
        "--port",
        str(port),
        "--worker_count",
        str(workers),
    ]
    return Server(command, port, app_root, _environment(model_dir, env), log_dir / f"reference-{port}.log")
