"""The two servers compared, started on 127.0.0.1 for one score.py: ours (mldeploy), the reference (azmlinfsrv)."""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.models import model_dir_for
from tests.support.servers import Server, free_port, start_ours, start_reference

from mldeploy.scoring.compiled import PURE_ENV

OUR_WORKER_MARKER = "mldeploy.scoring.worker"
EVERY_CHILD = ""  # every child of the gunicorn master is a worker
NO_WORKERS = "\0"  # matches no command line: the bare HTTP app answers in its only process
BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Contender:
    """``start(script, workers)`` starts the server; its workers are its children whose command holds the marker."""

    name: str
    worker_marker: str
    start: Callable[[str, int], Server]


def contenders(azmlinfsrv: Path, app_root: Path, log_dir: Path) -> tuple[Contender, Contender]:
    model_dir = model_dir_for(1)

    def ours(script: str, workers: int) -> Server:
        return start_ours(script, app_root, log_dir, model_dir=model_dir, workers=workers)

    def reference(script: str, workers: int) -> Server:
        return start_reference(azmlinfsrv, script, app_root, log_dir, model_dir=model_dir, workers=workers)

    return Contender("ours", OUR_WORKER_MARKER, ours), Contender("reference", EVERY_CHILD, reference)


def ours_as_python(app_root: Path, log_dir: Path) -> Contender:
    """Our server with its front run as Python (``MLDEPLOY_PURE_PYTHON=1``): what compiling it gains."""

    def start(script: str, workers: int) -> Server:
        return start_ours(script, app_root, log_dir, model_dir=model_dir_for(1), workers=workers, env={PURE_ENV: "1"})

    return Contender("ours, front as Python", OUR_WORKER_MARKER, start)


def bare_http(log_dir: Path) -> Contender:
    """An ASGI server's limit: bench/bare_asgi.py under uvicorn with httptools and uvloop."""

    def start(script: str, workers: int) -> Server:
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1",
                   "--port", str(port), "--http", "httptools", "--loop", "uvloop", "--lifespan", "off",
                   "--no-access-log", "--log-level", "warning"]  # fmt: skip
        return Server(command, port, BENCH_DIR, dict(os.environ), log_dir / f"bare-{port}.log")

    return Contender("bare ASGI app", NO_WORKERS, start)


def bare_parser(log_dir: Path) -> Contender:
    """The layer our front sits on: bench/bare_httptools.py, an httptools protocol on uvloop."""

    def start(script: str, workers: int) -> Server:
        port = free_port()
        command = [sys.executable, str(BENCH_DIR / "bare_httptools.py"), str(port)]
        return Server(command, port, BENCH_DIR, dict(os.environ), log_dir / f"bare-parser-{port}.log")

    return Contender("bare httptools protocol", NO_WORKERS, start)


def bare_hop(log_dir: Path) -> Contender:
    """The floor of a front + worker design: bench/bare_hop.py, the bare protocol handing each body to a forked
    echo worker and back (its worker: the child with the same command line)."""

    def start(script: str, workers: int) -> Server:
        port = free_port()
        command = [sys.executable, str(BENCH_DIR / "bare_hop.py"), str(port)]
        return Server(command, port, BENCH_DIR, dict(os.environ), log_dir / f"bare-hop-{port}.log")

    return Contender("bare front + worker hop", "bare_hop.py", start)


def reference_version(azmlinfsrv: Path) -> str:
    code = "from importlib.metadata import version; print(version('azureml-inference-server-http'))"
    completed = subprocess.run([str(_python_of(azmlinfsrv)), "-c", code], capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def _python_of(azmlinfsrv: Path) -> Path:
    return azmlinfsrv.parent / "python"
