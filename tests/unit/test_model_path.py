from pathlib import Path

import pytest

from mldeploy.scoring.shim.model import Model, ModelNotFoundError


@pytest.fixture
def model_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for version, files in ((1, ["model.pkl"]), (3, ["model.pkl"]), (10, ["weights.bin", "config.json"])):
        folder = tmp_path / "azureml-models" / "churn" / str(version)
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_text(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_latest_version_with_several_files_is_the_version_folder(model_tree: Path) -> None:
    assert Model.get_model_path("churn") == "azureml-models/churn/10"


def test_a_version_folder_with_one_entry_gives_that_entry(model_tree: Path) -> None:
    assert Model.get_model_path("churn", version=3) == "azureml-models/churn/3/model.pkl"


def test_legacy_layout_next_to_the_app(model_tree: Path) -> None:
    (model_tree / "legacy.pkl").write_text("x")
    assert Model.get_model_path("legacy.pkl") == "legacy.pkl"


def test_unknown_name_lists_the_tree_and_the_closest_name(model_tree: Path) -> None:
    with pytest.raises(ModelNotFoundError) as error:
        Model.get_model_path("chrun")
    message = str(error.value)
    assert "Did you mean 'churn'?" in message
    assert "        weights.bin" in message


def test_unknown_version_is_not_found(model_tree: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="version 2"):
        Model.get_model_path("churn", version=2)
