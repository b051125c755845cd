"""Legacy breakages on real servers: reported at once (one try, one traceback), and served unchanged with legacy
compatibility, answering as the same script with the manual fix applied (the old libraries do not install on
this Python): from `mldeploy serve --legacy-compat`, MLDEPLOY_LEGACY_COMPAT=1, and a local deployment."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mldeploy import Environment, InferenceConfig, LocalWebservice, Model, Workspace
from tests.conftest import Servers
from tests.support.servers import SCRIPTS

pytestmark = pytest.mark.slow

ROWS = json.dumps({"data": [[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.01], [0.1] * 10]})
EXTERNALS = "from sklearn.externals import joblib"
ALIASES = 'dtypes = {"float": np.float, "int": np.int, "bool": np.bool, "object": np.object}'


def fixed(folder: Path, script: str, old: str, new: str) -> Path:
    """The fixture script with the manual fix applied (its one legacy line edited)."""
    text = (SCRIPTS / script).read_text()
    assert old in text
    path = folder / f"fixed_{script}"
    path.write_text(text.replace(old, new))
    return path


def test_an_import_breakage_is_reported_at_once_and_once(servers: Servers, legacy_root: Path) -> None:
    server = servers.ours("legacy_sklearn_externals.py", healthy=False, app_root=legacy_root)  # --init-retries 2
    assert server.wait_exit() == 3
    log = server.log()
    assert log.count("Booting worker with pid") == 1, "not retried: every try would fail the same way"
    assert log.count("Traceback (most recent call last)") == 1
    assert "retrying" not in log
    assert "mldeploy.server - sklearn.externals.joblib was removed in scikit-learn 0.23" in log
    assert "mldeploy.server - Fix: write `import joblib` instead (legacy_sklearn_externals.py, line 7)" in log


def test_an_init_failure_that_may_pass_later_is_still_retried(servers: Servers, legacy_root: Path) -> None:
    server = servers.ours("init_raises.py", healthy=False, app_root=legacy_root, args=["--init-retries", "1"])
    assert server.wait_exit() == 3
    assert server.log().count("Booting worker with pid") == 2


def test_legacy_compat_serves_the_sklearn_externals_script_as_its_fixed_version(
    servers: Servers, legacy_root: Path, tmp_path: Path
) -> None:
    legacy = servers.ours("legacy_sklearn_externals.py", app_root=legacy_root, args=["--legacy-compat"])
    manual = servers.ours(fixed(tmp_path, "legacy_sklearn_externals.py", EXTERNALS, "import joblib"),
                          app_root=legacy_root)  # fmt: skip
    answers = [httpx.post(server.url + "/score", content=ROWS) for server in (legacy, manual)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert len(answers[0].json()) == 2
    assert legacy.log().count("Legacy compatibility: sklearn.externals.joblib is joblib") == 1


def test_legacy_compat_loads_a_model_saved_with_sklearn_externals_joblib(servers: Servers, legacy_root: Path) -> None:
    """The same Ridge (fixed seeds) saved by today's joblib is the oracle."""
    old = servers.ours("legacy_old_pickle.py", app_root=legacy_root, args=["--legacy-compat"],
                       model_dir="azureml-models/old-joblib/1")  # fmt: skip
    today = servers.ours("legacy_old_pickle.py", app_root=legacy_root)
    answers = [httpx.post(server.url + "/score", content=ROWS).json() for server in (old, today)]
    assert answers[0] == answers[1]
    assert "Legacy compatibility: sklearn.externals.joblib is joblib" in old.log()


@pytest.mark.reference
def test_the_reference_answers_the_fixed_script_as_we_answer_the_unchanged_one(
    servers: Servers, legacy_root: Path, tmp_path: Path
) -> None:
    """The reference's app root holds the same Ridge (built with fixed seeds), so its answers are the oracle."""
    legacy = servers.ours("legacy_sklearn_externals.py", app_root=legacy_root, args=["--legacy-compat"])
    reference = servers.reference(fixed(tmp_path, "legacy_sklearn_externals.py", EXTERNALS, "import joblib"))
    answers = [httpx.post(server.url + "/score", content=ROWS) for server in (legacy, reference)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].content == answers[1].content


def test_the_environment_variable_turns_the_numpy_aliases_on(
    servers: Servers, legacy_root: Path, tmp_path: Path
) -> None:
    legacy = servers.ours("legacy_numpy_alias.py", app_root=legacy_root, env={"MLDEPLOY_LEGACY_COMPAT": "1"})
    builtins = ALIASES.replace("np.float", "float").replace("np.int", "int").replace("np.object", "object")
    manual = servers.ours(fixed(tmp_path, "legacy_numpy_alias.py", ALIASES, builtins), app_root=legacy_root)
    body = json.dumps({"data": [1.5, 0, 2]})
    answers = [httpx.post(server.url + "/score", content=body).json() for server in (legacy, manual)]
    assert answers[0] == answers[1] == {"float": [1.5, 0.0, 2.0], "int": [1, 0, 2], "bool": [True, False, True],
                                        "object": [1.5, 0, 2]}  # fmt: skip
    log = legacy.log()
    for alias in ("float", "int", "object"):
        assert log.count(f"Legacy compatibility: np.{alias} is the builtin {alias}") == 1


def test_the_numpy_aliases_answer_as_on_the_numpy_the_script_was_written_for(
    servers: Servers, legacy_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NumPy 1.23 (the last with np.float) installs on this Python: the unchanged script served there by a local
    deployment is the oracle for the shims on today's NumPy."""
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copy(SCRIPTS / "legacy_numpy_alias.py", tmp_path / "score.py")
    (tmp_path / "requirements.txt").write_text("numpy<1.24\n")
    workspace = Workspace(tmp_path / "workspace")
    old_numpy = Environment.from_pip_requirements("numpy-1-23", tmp_path / "requirements.txt")
    service = Model.deploy(workspace, "old-numpy", [], InferenceConfig("score.py", environment=old_numpy),
                           LocalWebservice.deploy_configuration())  # fmt: skip
    legacy = servers.ours("legacy_numpy_alias.py", app_root=legacy_root, args=["--legacy-compat"])
    body = json.dumps({"data": [[1.5, 0, -2], [3, 4.25, 0]]})
    try:
        service.wait_for_deployment()
        assert "Legacy compatibility" not in service.get_logs()
        assert service.run(input_data=body) == httpx.post(legacy.url + "/score", content=body).json()
    finally:
        service.delete()


def test_a_local_deployment_with_legacy_compat_serves_the_unchanged_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copy(SCRIPTS / "legacy_sklearn_externals.py", tmp_path / "score.py")
    from tests.fixtures.models import build_diabetes_model

    build_diabetes_model(tmp_path / "model.pkl")
    workspace = Workspace(tmp_path / "workspace")
    model = Model.register(model_path="model.pkl", model_name="old-sample", workspace=workspace)
    config = LocalWebservice.deploy_configuration(legacy_compat=True)
    service = Model.deploy(workspace, "old-sample", [model], InferenceConfig(entry_script="score.py"), config)
    try:
        service.wait_for_deployment()
        assert len(service.run(input_data=ROWS)) == 2
        assert "Legacy compatibility: sklearn.externals.joblib is joblib" in service.get_logs()
    finally:
        service.delete()


def test_mldeploy_deploy_legacy_compat_serves_the_unchanged_script(tmp_path: Path) -> None:
    shutil.copy(SCRIPTS / "legacy_sklearn_externals.py", tmp_path / "score.py")
    from tests.fixtures.models import build_diabetes_model

    build_diabetes_model(tmp_path / "model.pkl")

    def mldeploy(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mldeploy", "--workspace", str(tmp_path / "workspace"), *args]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180)

    assert mldeploy("model", "register", "model.pkl", "--name", "old-sample").returncode == 0
    deploy = ["deploy", "old-cli", "--model", "old-sample", "--entry-script", "score.py"]
    try:
        refused = mldeploy(*deploy)
        assert refused.returncode == 1
        assert "sklearn.externals.joblib was removed in scikit-learn 0.23" in refused.stderr
        served = mldeploy(*deploy, "--overwrite", "--legacy-compat")
        assert served.returncode == 0, served.stderr
        assert len(json.loads(mldeploy("service", "run", "old-cli", ROWS).stdout)) == 2
    finally:
        mldeploy("service", "delete", "old-cli")
