"""Building environments with uv for real (packages come from the configured registry)."""

import subprocess
from pathlib import Path

import pytest

from mldeploy.environments.build import BuildError, build, python_of
from mldeploy.environments.interpreters import InterpreterError
from mldeploy.environments.spec import EnvironmentSpec

pytestmark = pytest.mark.slow


def test_build_once_then_reuse_and_the_runtime_imports(tmp_path: Path) -> None:
    spec = EnvironmentSpec("small", None, ("six",))
    steps: list[str] = []
    env = build(spec, tmp_path / "envs", steps.append, "requirements.txt")
    built_at = (env / ".complete").stat().st_mtime_ns
    code = "import six, uvicorn, werkzeug, mldeploy.scoring.server; import typer"
    result = subprocess.run([str(python_of(env)), "-c", code], capture_output=True, text=True)
    assert "No module named 'typer'" in result.stderr, "the control plane is not installed in user environments"
    subprocess.run([str(python_of(env)), "-c", code.rsplit(";", 1)[0]], check=True)
    again = build(EnvironmentSpec("other-name", None, ("six",)), tmp_path / "envs", steps.append, "requirements.txt")
    assert again == env
    assert (env / ".complete").stat().st_mtime_ns == built_at
    assert steps[-1] == f"reusing environment {env.name}"


def test_an_old_pin_names_the_package_and_the_nearest_installable_version(tmp_path: Path) -> None:
    spec = EnvironmentSpec("legacy", None, ("scikit-learn==0.19.1",))
    with pytest.raises(BuildError) as error:
        build(spec, tmp_path / "envs", lambda step: None, "myenv.yml")
    message = str(error.value)
    assert "scikit-learn==0.19.1" in message
    assert "has no build for Python 3." in message
    assert "the nearest installable version is 1." in message
    assert not list((tmp_path / "envs").iterdir()), "a failed build leaves nothing behind"


def test_a_python_we_cannot_provide_lists_the_ones_we_can(tmp_path: Path) -> None:
    with pytest.raises(InterpreterError, match=r"myenv.yml asks for Python 3.7.*one this machine has: .*3\.11"):
        build(EnvironmentSpec("old", "3.7", ()), tmp_path / "envs", lambda step: None, "myenv.yml")
    with pytest.raises(InterpreterError, match=r"Python 3\.99, which this machine does not have"):
        build(EnvironmentSpec("future", "3.99", ()), tmp_path / "envs", lambda step: None, "myenv.yml")
