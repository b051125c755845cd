"""Building environments with uv for real (packages come from the configured registry)."""

import subprocess
from pathlib import Path

import pytest

from mldeploy.environments.build import BuildError, build
from mldeploy.environments.interpreters import InterpreterError
from mldeploy.environments.spec import EnvironmentSpec
from mldeploy.environments.venv import python_of

pytestmark = pytest.mark.slow


def test_build_once_then_reuse_and_the_runtime_imports(tmp_path: Path) -> None:
    spec = EnvironmentSpec("small", None, ("six",))
    steps: list[str] = []
    env = build(spec, tmp_path / "envs", steps.append, "requirements.txt")
    built_at = (env / ".complete").stat().st_mtime_ns
    code = "import six, httptools, werkzeug, mldeploy.scoring.server; import typer"
    result = subprocess.run([str(python_of(env)), "-c", code], capture_output=True, text=True)
    assert "No module named 'typer'" in result.stderr, "the control plane is not installed in user environments"
    subprocess.run([str(python_of(env)), "-c", code.rsplit(";", 1)[0]], check=True)
    again = build(EnvironmentSpec("other-name", None, ("six",)), tmp_path / "envs", steps.append, "requirements.txt")
    assert again == env
    assert (env / ".complete").stat().st_mtime_ns == built_at
    assert steps[-1] == f"reusing environment {env.name}"


def test_an_old_pin_gets_advice_that_builds_an_environment_that_imports(tmp_path: Path) -> None:
    """scikit-learn==0.19.1 has no wheel for this Python; its nearest installable version, 1.1.3, was compiled
    against numpy 1: alone it resolves numpy 2 and does not import, so the advice adds the pin it needs."""
    envs = tmp_path / "envs"
    with pytest.raises(BuildError) as error:
        build(EnvironmentSpec("legacy", None, ("scikit-learn==0.19.1",)), envs, lambda step: None, "myenv.yml")
    message = str(error.value)
    assert "scikit-learn==0.19.1" in message and "has no build for Python 3." in message
    assert "the nearest installable version is 1." in message and "numpy<2" in message
    assert not list(envs.iterdir()), "a failed build leaves nothing behind"
    advised = tuple(message.rsplit(": pin ", 1)[1].rstrip(".").split(" and "))
    nearest = advised[0]

    with pytest.raises(BuildError) as error:
        build(EnvironmentSpec("legacy", None, (nearest,)), envs, lambda step: None, "myenv.yml")
    message = str(error.value)
    assert "Environment 'legacy' was built but does not work: `import sklearn` (scikit-learn 1." in message
    assert "numpy.dtype size changed" in message and "compiled against an older numpy than the numpy 2." in message
    assert "Fix: add numpy<2 to the environment's packages" in message
    assert not list(envs.iterdir()), "an environment that does not import is not kept (nor reused)"

    env = build(EnvironmentSpec("legacy", None, advised), envs, lambda step: None, "myenv.yml")
    subprocess.run([str(python_of(env)), "-c", "import sklearn.linear_model"], check=True)


def test_a_python_we_cannot_provide_lists_the_ones_we_can(tmp_path: Path) -> None:
    with pytest.raises(InterpreterError, match=r"myenv.yml asks for Python 3.7.*one this machine has: .*3\.11"):
        build(EnvironmentSpec("old", "3.7", ()), tmp_path / "envs", lambda step: None, "myenv.yml")
    with pytest.raises(InterpreterError, match=r"Python 3\.99, which this machine does not have"):
        build(EnvironmentSpec("future", "3.99", ()), tmp_path / "envs", lambda step: None, "myenv.yml")


def test_a_pin_against_the_scoring_runtime_is_explained_in_our_words(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    with pytest.raises(BuildError) as error:  # refused before anything is installed
        build(EnvironmentSpec("old-schema", None, ("inference-schema==1.0.2",)), envs, lambda step: None, "x.yml")
    assert str(error.value) == (
        "Your requirement inference-schema==1.0.2 (environment 'old-schema') conflicts with mldeploy's scoring "
        "runtime, which installs inference-schema>=1.7 into every environment for the @input_schema/@output_schema "
        "decorators and /swagger.json. Fix: remove inference-schema from the environment's packages (mldeploy "
        "installs it, as azureml-defaults did on Azure) or change it to inference-schema>=1.7."
    )
    with pytest.raises(BuildError) as error:  # a dependency of ours, named by the resolver
        build(EnvironmentSpec("old-markup", None, ("markupsafe==1.1.1",)), envs, lambda step: None, "x.yml")
    message = str(error.value)
    assert message.startswith("Your requirement markupsafe==1.1.1 (environment 'old-markup') conflicts with")
    assert "installs werkzeug>=3.0 into every environment for the request object of @rawhttp scripts" in message
    assert "werkzeug needs markupsafe>=2.1.1. Fix: change it to markupsafe>=2.1.1 or remove it" in message
    assert "No solution found" not in message and "unsatisfiable" not in message
