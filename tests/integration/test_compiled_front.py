"""The front compiled with mypyc is used only for the sources it was built from, by the interpreter it was built
for; any other case (edited sources, a damaged build, MLDEPLOY_PURE_PYTHON=1) runs the same front as Python and
says so in the server's banner."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mldeploy.scoring import compiled
from tests.conftest import Servers
from tests.support.package_copy import copy_of_mldeploy

BANNER = "Front:               "


@pytest.fixture(scope="module")
def build() -> Path:
    """The build for these sources (made once, then kept: scripts/test.sh makes it before the suite)."""
    made = subprocess.run([sys.executable, "-m", "mldeploy.scoring.compiled"], capture_output=True, text=True)
    if made.returncode != 0 and "needs" in made.stderr:
        pytest.skip(made.stderr.strip())
    assert made.returncode == 0, made.stderr
    return compiled.build_folder()


def _front_line(log: str) -> str:
    return next(line.split(BANNER, 1)[1] for line in log.splitlines() if BANNER in line)


def test_the_build_runs_for_its_own_sources_and_python_runs_for_edited_ones(
    build: Path, servers: Servers, tmp_path: Path
) -> None:
    same = servers.ours("echo.py")
    assert _front_line(same.log()) == f"compiled with mypyc ({build})"
    assert httpx.post(same.url + "/score", content="same", timeout=10).json() == "same"

    package = copy_of_mldeploy(tmp_path / "site")
    front = package / "scoring" / "front.py"
    front.write_text(front.read_text() + "\n# edited after the build\n")
    environment = {"PYTHONPATH": str(tmp_path / "site"), "PYTHONDONTWRITEBYTECODE": "1"}
    edited = servers.ours("echo.py", env=environment)
    assert _front_line(edited.log()).startswith("Python (no build for these sources")
    assert httpx.post(edited.url + "/score", content="edited", timeout=10).json() == "edited"


def test_a_damaged_build_is_not_loaded_and_the_front_runs_as_python(
    build: Path, servers: Servers, tmp_path: Path
) -> None:
    damaged = tmp_path / "builds" / build.name
    shutil.copytree(build, damaged)
    [library] = (damaged / "scoring").glob("front.*.so")
    library.write_bytes(b"not a shared library")
    server = servers.ours("echo.py", env={compiled.FOLDER_ENV: str(tmp_path / "builds")})
    line = _front_line(server.log())
    assert line.startswith(f"Python (the build in {damaged} did not load") and "build again" in line
    assert httpx.post(server.url + "/score", content="still served", timeout=10).json() == "still served"


def test_pure_python_when_asked(build: Path, servers: Servers) -> None:
    server = servers.ours("echo.py", env={compiled.PURE_ENV: "1"})
    assert _front_line(server.log()) == f"Python ({compiled.PURE_ENV}=1)"
    assert os.path.isdir(build)  # a build was there to be used, and was not
