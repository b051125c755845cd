"""The model registry against a real store (SQLite file and PostgreSQL server) and real blob files."""

from pathlib import Path

import pytest

from mldeploy import Model, Workspace
from mldeploy.workspace.models import ModelError


def test_a_folder_registers_with_its_top_name_and_every_file(workspace: Workspace, model_folder: Path) -> None:
    model = Model.register(workspace, model_folder, "churn", tags={"stage": "dev"}, description="first")
    assert (model.name, model.version, model.id) == ("churn", 1, "churn:1")
    assert model.files == ["outputs/model.pkl", "outputs/run.sh", "outputs/sub/vocab.txt"]
    assert Model(workspace, "churn").description == "first"


def test_versions_grow_and_are_never_reused(workspace: Workspace, model_folder: Path) -> None:
    for expected in (1, 2, 3):
        assert Model.register(workspace, model_folder / "model.pkl", "m").version == expected
    Model(workspace, "m", version=3).delete()
    assert Model.register(workspace, model_folder / "model.pkl", "m").version == 4
    assert [model.version for model in Model.list(workspace, name="m")] == [4, 2, 1]
    assert Model(workspace, id="m:2").version == 2


def test_identical_files_are_stored_once(workspace: Workspace, model_folder: Path) -> None:
    Model.register(workspace, model_folder, "a")
    Model.register(workspace, model_folder, "b")
    blobs = [path for path in (workspace.path / "blobs" / "sha256").rglob("*") if path.is_file()]
    assert len(blobs) == 3


def test_download_gives_back_the_same_bytes_and_modes(workspace: Workspace, model_folder: Path, tmp_path: Path) -> None:
    model = Model.register(workspace, model_folder, "m")
    top = Path(model.download(tmp_path / "out"))
    assert top == tmp_path / "out" / "outputs"
    assert (top / "model.pkl").read_bytes() == (model_folder / "model.pkl").read_bytes()
    assert (top / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert (top / "run.sh").stat().st_mode & 0o111
    with pytest.raises(ModelError, match="already exists"):
        model.download(tmp_path / "out")
    model.download(tmp_path / "out", exist_ok=True)


def test_list_filters_by_tags_and_latest(workspace: Workspace, model_folder: Path) -> None:
    file = model_folder / "model.pkl"
    Model.register(workspace, file, "a", tags={"stage": "dev"})
    Model.register(workspace, file, "a", tags={"stage": "prod"})
    Model.register(workspace, file, "b", tags={"owner": "x"})
    assert [m.id for m in Model.list(workspace, tags=["stage"])] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(workspace, tags=[["stage", "prod"]])] == ["a:2"]
    assert [m.id for m in Model.list(workspace, latest=True)] == ["a:2", "b:1"]
    assert sorted(workspace.models) == ["a", "b"]
    assert workspace.models["a"].version == 2


def test_unknown_model_names_the_closest_registered_one_and_versions_the_existing_ones(
    workspace: Workspace, model_folder: Path
) -> None:
    for name in ("churn", "churn", "churn", "fraud", "Sales-Forecast"):
        Model.register(workspace, model_folder, name)
    Model(workspace, "churn", version=2).delete()
    with pytest.raises(ModelError, match=r"No model 'chrun' in this workspace\. Did you mean 'churn'\? Registered"):
        Model(workspace, "chrun")
    with pytest.raises(ModelError, match=r"Did you mean 'Sales-Forecast'\?"):
        Model(workspace, "sales_forecast")
    with pytest.raises(
        ModelError, match=r"No model 'zzz' in this workspace\. Registered models: Sales-Forecast, churn, "
    ):
        Model(workspace, "zzz")
    with pytest.raises(ModelError, match=r"Model 'churn' has no version 7 \(its versions: 1, 3\)"):
        Model(workspace, "churn", version=7)


def test_bad_paths_are_refused_and_record_nothing(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Model.register(workspace, tmp_path / "missing.pkl", "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="holds no file"):
        Model.register(workspace, tmp_path / "empty", "m")
    assert Model.list(workspace) == []


def test_a_second_process_sees_the_same_models(workspace: Workspace, model_folder: Path) -> None:
    Model.register(workspace, model_folder, "shared")
    assert Model(Workspace(workspace.path), "shared").files == Model(workspace, "shared").files
