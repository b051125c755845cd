"""Conda specifications and pip requirements, as v1 users wrote them, parsed into one spec."""

from pathlib import Path

import pytest

from mldeploy.environments.spec import SpecError, from_conda_specification, from_pip_requirements

SEED_STYLE = """\
name: project_environment
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26
  - scikit-learn==1.5.2
  - conda-forge::pandas>=2.0,<3
  - pytorch
  - py-xgboost 2.0.*
  - mkl
  - pip
  - pip:
    - azureml-defaults>=1.0.45
    - joblib==1.4.2
    - inference-schema[numpy-support]
"""


def test_conda_specification_maps_to_pypi(tmp_path: Path) -> None:
    path = tmp_path / "myenv.yml"
    path.write_text(SEED_STYLE)
    spec = from_conda_specification("myenv", path)
    assert spec.python == "3.11"
    assert spec.requirements == (
        "numpy==1.26.*",
        "scikit-learn==1.5.2",
        "pandas<3,>=2.0",
        "torch",
        "xgboost==2.0.*",
        "joblib==1.4.2",
        "inference-schema[numpy-support]",
    )
    assert "azureml-defaults dropped: mldeploy provides the scoring server" in spec.notices
    assert "conda package 'pytorch' is installed from PyPI as 'torch'" in spec.notices


def test_pip_requirements_follow_includes_and_skip_options(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("numpy>=1.26  # arrays\n")
    path = tmp_path / "requirements.txt"
    path.write_text(
        "-r base.txt\n--extra-index-url https://example.invalid/simple\n\njoblib\nazureml-inference-server-http\n"
    )
    spec = from_pip_requirements("env", path)
    assert spec.python is None
    assert spec.requirements == ("numpy>=1.26", "joblib")
    assert any("ignored" in notice for notice in spec.notices)


def test_the_same_requirements_make_the_same_digest(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("numpy\njoblib\n")
    second.write_text("joblib\nnumpy\n")
    one, two = from_pip_requirements("a", first), from_pip_requirements("b", second)
    assert one.digest("3.11.7", "x86_64") == two.digest("3.11.7", "x86_64")
    assert one.digest("3.11.7", "x86_64") != one.digest("3.12.1", "x86_64")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependencies: {}\n", "no 'dependencies:' list"),
        ("dependencies: [\n", "not valid YAML"),
        ("dependencies:\n  - 'numpy ==> 1'\n", "not a valid requirement"),
    ],
)
def test_unreadable_conda_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "env.yml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        from_conda_specification("env", path)
