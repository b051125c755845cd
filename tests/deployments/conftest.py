"""A workspace with a registered model and a source folder holding the seed's score.py."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mldeploy import Model, Workspace
from tests.fixtures.models import build_diabetes_model
from tests.support.servers import SCRIPTS

CONDA_FILE = """\
name: project_environment
dependencies:
  - python=3.11
  - numpy
  - scikit-learn
  - pip:
    - azureml-defaults>=1.0.45
    - joblib
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    workspace = Workspace(tmp_path / "workspace")
    yield workspace
    for service in workspace.webservices.values():
        service.delete()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's project folder (the current directory): score.py, myenv.yml, model.pkl."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(SCRIPTS / "seed_predict.py", folder / "score.py")
    (folder / "myenv.yml").write_text(CONDA_FILE)
    build_diabetes_model(folder / "model.pkl")
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def model(workspace: Workspace, project: Path) -> Model:
    return Model.register(model_path="model.pkl", model_name="my_best_model", workspace=workspace)
