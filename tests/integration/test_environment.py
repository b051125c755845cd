"""What score.py sees of its surroundings: source directory, app root, and the real azureml-core when present."""

from pathlib import Path

import httpx

from tests.conftest import Servers


def _app_root_with_source_dir(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "helper_lib.py").write_text("def answer(text):\n    return text.upper()\n")
    return root


def test_source_directory_is_importable(servers: Servers, tmp_path: Path) -> None:
    root = _app_root_with_source_dir(tmp_path)
    server = servers.ours(
        "uses_source_dir.py", app_root=root, env={"AML_APP_ROOT": str(root), "AZUREML_SOURCE_DIRECTORY": "src"}
    )
    assert httpx.post(server.url + "/score", content="abc").json() == {
        "answer": "ABC",
        "real_azureml_core": False,
    }


def test_an_installed_azureml_core_wins_over_the_shim(servers: Servers, tmp_path: Path) -> None:
    """A stand-in for the azureml-core package (not one of ours) on PYTHONPATH must be the one used."""
    root = _app_root_with_source_dir(tmp_path / "app")
    site = tmp_path / "site"
    (site / "azureml" / "core").mkdir(parents=True)
    (site / "azureml" / "core" / "__init__.py").write_text("")
    (site / "azureml" / "core" / "model.py").write_text("class Model:\n    real_azureml_core = True\n")
    server = servers.ours(
        "uses_source_dir.py",
        app_root=root,
        env={"AML_APP_ROOT": str(root), "AZUREML_SOURCE_DIRECTORY": "src", "PYTHONPATH": str(site)},
    )
    assert httpx.post(server.url + "/score", content="x").json()["real_azureml_core"] is True
