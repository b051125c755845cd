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


BINARY_BREAK = "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88"


def _installed(site: Path, name: str, version: str, code: str) -> None:
    """A distribution in ``site`` as an installer leaves it: the package and its metadata."""
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(code)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(f"{name}\n")


def test_init_failing_inside_an_installed_package_blames_the_environment(servers: Servers, tmp_path: Path) -> None:
    """A stand-in for a package compiled against numpy 1 (what scikit-learn 1.1.3 does under numpy 2), not one of
    ours: init() imports it and it raises numpy's own error from inside its package."""
    import numpy

    site = tmp_path / "site-packages"
    _installed(site, "oldcompiled", "1.0", f"import numpy\nraise ValueError({BINARY_BREAK!r})\n")
    score = tmp_path / "score.py"
    score.write_text("def init():\n    import oldcompiled\n\n\ndef run(data):\n    return data\n")
    server = servers.ours(score, healthy=False, args=["--init-retries", "0"], env={"PYTHONPATH": str(site)})
    assert server.wait_exit() == 3
    log = server.log()
    assert "init() failed in" in log and "score.py, line 2, in init" in log
    assert "The environment is at fault, not the script: oldcompiled 1.0 fails: ValueError: numpy.dtype size" in log
    assert f"compiled against an older numpy than the numpy {numpy.__version__} installed" in log
    assert f"Fix: add numpy<{numpy.__version__.split('.')[0]} to the environment's packages" in log
    assert "correct the error above in the script" not in log
