"""An app root holding the models of the legacy tests, as v1 containers lay them out."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.models import build_app_root
from tests.legacy.models import old_joblib_pickle, old_module_pickle, old_version_pickle
from tests.support.servers import SCRIPTS


@pytest.fixture(scope="session")
def legacy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """azureml-models/sk-model/1 (today's Ridge), old-module/1 (scikit-learn < 0.24 class path) and
    old-version/1 (pickled by "0.23.2"), old-joblib/1 (saved with sklearn.externals.joblib)."""
    root = build_app_root(tmp_path_factory.mktemp("legacy-root"))
    old_module_pickle(root / "azureml-models" / "old-module" / "1")
    old_version_pickle(root / "azureml-models" / "old-version" / "1")
    old_joblib_pickle(root / "azureml-models" / "old-joblib" / "1")
    return root


def check(
    root: Path, script: str | Path, *args: str, model: str = "sk-model", workspace: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``mldeploy check SCRIPT`` run from ``root`` (with the model folder of ``model``)."""
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace or root / "workspace")]
    command += ["check", str(SCRIPTS / script), *args]
    command += ["--model-dir", f"azureml-models/{model}/1"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
