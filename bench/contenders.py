"""The two servers compared, started on 127.0.0.1 for one score.py: ours (mldeploy), the reference (azmlinfsrv)."""

import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.models import model_dir_for
from tests.support.servers import Server, start_ours, start_reference

LOOPBACK_SCRIPT = Path(__file__).resolve().parent / "reference_loopback.py"
OUR_WORKER_MARKER = "mldeploy.scoring.worker"
EVERY_CHILD = ""  # every child of the gunicorn master is a worker


@dataclass(frozen=True)
class Contender:
    """``start(script, workers)`` starts the server; its workers are its children whose command holds the marker."""

    name: str
    worker_marker: str
    start: Callable[[str, int], Server]


def contenders(azmlinfsrv: Path, app_root: Path, log_dir: Path, work_dir: Path) -> tuple[Contender, Contender]:
    model_dir = model_dir_for(1)
    launcher = _loopback_launcher(azmlinfsrv, work_dir)

    def ours(script: str, workers: int) -> Server:
        return start_ours(script, app_root, log_dir, model_dir=model_dir, workers=workers)

    def reference(script: str, workers: int) -> Server:
        return start_reference(launcher, script, app_root, log_dir, model_dir=model_dir, workers=workers)

    return Contender("ours", OUR_WORKER_MARKER, ours), Contender("reference", EVERY_CHILD, reference)


def reference_version(azmlinfsrv: Path) -> str:
    code = "from importlib.metadata import version; print(version('azureml-inference-server-http'))"
    completed = subprocess.run([str(_python_of(azmlinfsrv)), "-c", code], capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def _loopback_launcher(azmlinfsrv: Path, work_dir: Path) -> Path:
    """An executable taking azmlinfsrv's arguments that runs it bound to 127.0.0.1 (``exec`` keeps one process)."""
    launcher = work_dir / "azmlinfsrv-loopback"
    python = shlex.quote(str(_python_of(azmlinfsrv)))
    launcher.write_text(f'#!/bin/sh\nexec {python} {shlex.quote(str(LOOPBACK_SCRIPT))} "$@"\n')
    launcher.chmod(0o755)
    return launcher


def _python_of(azmlinfsrv: Path) -> Path:
    return azmlinfsrv.parent / "python"
