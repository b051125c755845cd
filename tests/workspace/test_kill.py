"""SIGKILL `mldeploy model register` at many points: the workspace always opens, every earlier model is
intact, and a model is either wholly there or not there at all."""

import hashlib
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mldeploy import Model, Workspace

pytestmark = pytest.mark.slow

KILLS = 30


def _big_folder(root: Path) -> Path:
    rng = random.Random(0)
    folder = root / "big"
    folder.mkdir()
    for index in range(24):
        (folder / f"shard-{index:02d}.bin").write_bytes(rng.randbytes(256 * 1024))
    return folder


def _check_intact(workspace: Workspace) -> dict[str, list[str]]:
    """Every file of every model is a complete blob with the recorded hash; {model id: files}."""
    seen = {}
    for model in Model.list(workspace):
        for file in model._row.files:
            blob = workspace._store.blobs.path(file.sha256)
            data = blob.read_bytes()
            assert len(data) == file.size, (model.id, file.path)
            assert hashlib.sha256(data).hexdigest() == file.sha256, (model.id, file.path)
        seen[model.id] = model.files
    return seen


def _register(home: Path, folder: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "mldeploy",
        "--workspace",
        str(home),
        "model",
        "register",
        str(folder),
        "--name",
        "big",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_registrations_never_leave_a_half_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    home = tmp_path / "workspace"
    folder = _big_folder(tmp_path)
    base = Model.register(Workspace(home), folder / "shard-00.bin", "base")
    started = time.monotonic()
    assert _register(home, folder).wait(timeout=120) == 0
    full_run_s = time.monotonic() - started
    before = _check_intact(Workspace(home))
    rng = random.Random(1)
    for _ in range(KILLS):
        process = _register(home, folder)
        time.sleep(rng.uniform(0, full_run_s))
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = _check_intact(Workspace(home))
        for model_id, files in before.items():
            assert after[model_id] == files, model_id
        for model_id, files in after.items():
            if model_id.startswith("big:"):
                assert len(files) == 24, model_id
        before = after
    assert Model(Workspace(home), "base").files == base.files
