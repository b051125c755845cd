"""`mldeploy check`: every legacy breakage named by a real worker running the fixture's init(), with the
library version that removed the thing, the fix, and whether --legacy-compat serves the unchanged script."""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.legacy.conftest import check

pytestmark = pytest.mark.slow  # each check starts one or two real workers (scikit-learn imports): 2-4 s

COMPAT = "--legacy-compat would make it serve: "


@dataclass(frozen=True)
class Breakage:
    script: str
    says: tuple[str, ...]  # in the verdict, in this order
    compat: str | None  # "yes", "no", or None when the opt-in is not offered
    model: str = "sk-model"


BREAKAGES = {
    "sklearn.externals.joblib": Breakage(
        "legacy_sklearn_externals.py",
        ("legacy_sklearn_externals.py, line 7", "sklearn.externals.joblib was removed in scikit-learn 0.23",
         "Fix: write `import joblib` instead (legacy_sklearn_externals.py, line 7)"),
        "yes",
    ),
    "model saved with sklearn.externals.joblib": Breakage(
        "legacy_old_pickle.py",
        ("No module named 'sklearn.externals.joblib'", "The model was saved with sklearn.externals.joblib, the copy "
         "of joblib that scikit-learn kept until 0.23", "Fix: load it once and save it again with `import joblib"),
        "yes",
        model="old-joblib",
    ),
    "sklearn.externals.six": Breakage(
        "legacy_sklearn_six.py",
        ("sklearn.externals.six was removed in scikit-learn 0.23",
         "Fix: write `import six` instead (legacy_sklearn_six.py, line 3) and add six to the environment's packages"),
        None,  # six is not installed here: the shim has nothing to map it to
    ),
    "numpy aliases": Breakage(
        "legacy_numpy_alias.py",
        ("np.float was an alias of the builtin float, removed in NumPy 1.24",
         "Fix: write float instead of np.float (legacy_numpy_alias.py, line 10), or pin numpy<1.24"),
        "yes",
    ),
    "DataFrame.append": Breakage(
        "legacy_pandas_append.py",
        ("DataFrame.append was removed in pandas 2.0",
         "Fix: use pd.concat([frame, other]) instead (legacy_pandas_append.py, line 10), or pin pandas<2",
         "(with numpy<2"),
        None,
    ),
    "Series.iteritems": Breakage(
        "legacy_pandas_iteritems.py",
        ("Series.iteritems was removed in pandas 2.0",
         "Fix: use .items() instead (legacy_pandas_iteritems.py, line 8)"),
        None,
    ),
    "removed private module": Breakage(
        "legacy_old_pickle.py",
        ("No module named 'sklearn.linear_model.base'",
         "it names the module sklearn.linear_model.base, which scikit-learn 0.22 made private as "
         "sklearn.linear_model._base and 0.24 removed", "Fix: pin the scikit-learn that pickled it"),
        None,
        model="old-module",
    ),
    "InconsistentVersionWarning": Breakage(
        "legacy_model_attribute.py",
        ("'Ridge' object has no attribute 'n_features_in_'",
         "Fix: the model is older than the scikit-learn here: Ridge was pickled with scikit-learn 0.23.2",
         "pin scikit-learn==0.23.2 in the environment"),
        None,
        model="old-version",
    ),
    "missing package": Breakage(
        "legacy_missing_package.py",
        ("No module named 'cv2'", "Fix: add the package opencv-python-headless to the environment: "
         "`- opencv-python-headless` under `- pip:` in the conda file, or a line `opencv-python-headless` in the pip "
         "requirements"),
        None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", BREAKAGES)
def test_each_breakage_is_named_with_its_version_and_fix(legacy_root: Path, name: str) -> None:
    case = BREAKAGES[name]
    verdict = check(legacy_root, case.script, model=case.model)
    assert verdict.returncode == 1, verdict.stdout + verdict.stderr
    text = verdict.stdout
    assert text.startswith(f"fails: {case.script}\n")
    positions = [text.find(expected) for expected in case.says]
    assert -1 not in positions and positions == sorted(positions), text
    assert "correct the error above in the script" not in text
    if case.compat is None:
        assert COMPAT not in text
    else:
        assert f"{COMPAT}{case.compat}" in text, text


def test_python2_print_is_a_syntax_error_with_file_and_line(legacy_root: Path, tmp_path: Path) -> None:
    score = tmp_path / "score.py"
    score.write_text((Path(__file__).parent.parent / "fixtures" / "scripts" / "legacy_python2_print.py2").read_text())
    verdict = check(legacy_root, score)
    assert verdict.returncode == 1
    assert f"Loading the scoring script failed in {score}, line 5" in verdict.stdout
    assert "score.py, line 5 is Python 2 syntax, which Python 3 refuses (Missing parentheses in call to 'print'" in (
        verdict.stdout
    )
    assert "Fix: write it in Python 3: print(x) instead of print x" in verdict.stdout


def test_a_ready_script_shows_its_input_style_and_schema(legacy_root: Path) -> None:
    verdict = check(legacy_root, "schema_numpy.py")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert verdict.stdout.startswith("ready: schema_numpy.py (worker ready in ")
    assert "run() input: the JSON body's keys as keyword arguments (inference-schema)" in verdict.stdout
    assert 'input schema: {"type": "object", "properties": {"data":' in verdict.stdout


def test_a_model_pickled_by_an_older_scikit_learn_is_named_when_it_serves(legacy_root: Path) -> None:
    verdict = check(legacy_root, "legacy_old_pickle.py", model="old-version")
    assert verdict.returncode == 0, verdict.stdout
    assert "model version: Ridge was pickled with scikit-learn 0.23.2 and this environment has" in verdict.stdout


def test_legacy_compat_serves_the_unchanged_script_and_names_the_shims(legacy_root: Path) -> None:
    verdict = check(legacy_root, "legacy_sklearn_externals.py", "--legacy-compat")
    assert verdict.returncode == 0, verdict.stdout
    assert "served with legacy shims: sklearn.externals.joblib" in verdict.stdout


def test_a_missing_model_file_keeps_its_own_fix(legacy_root: Path) -> None:
    verdict = check(legacy_root, "legacy_sklearn_externals.py", "--legacy-compat", model="nothing-here")
    assert verdict.returncode == 1
    assert "FileNotFoundError" in verdict.stdout
    assert "Fix: the script opened a path that does not exist" in verdict.stdout


def test_bad_input_is_refused_before_anything_runs(legacy_root: Path) -> None:
    verdict = check(legacy_root, "no-such-script.py")
    assert verdict.returncode == 2
    assert "does not exist" in verdict.stderr


def test_the_environment_files_are_built_once_and_init_runs_there(legacy_root: Path, tmp_path: Path) -> None:
    """six is not installed where the tests run: only the built environment has it for the shim to map to."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("scikit-learn\nsix\n")
    args = ("--pip-requirements", str(requirements), "--legacy-compat")
    first = check(legacy_root, "legacy_sklearn_six.py", *args, workspace=tmp_path / "workspace")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "served with legacy shims: sklearn.externals.six" in first.stdout
    again = check(legacy_root, "legacy_sklearn_six.py", *args, workspace=tmp_path / "workspace")
    assert again.returncode == 0
    assert "reusing environment" in again.stderr


def test_without_a_model_folder_the_opt_in_verdict_asks_for_one(legacy_root: Path) -> None:
    script = Path(__file__).parent.parent / "fixtures" / "scripts" / "legacy_sklearn_externals.py"
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(legacy_root / "workspace"), "check", str(script)]
    verdict = subprocess.run(command, cwd=legacy_root, capture_output=True, text=True, timeout=300)
    assert verdict.returncode == 1
    assert "sklearn.externals.joblib was removed in scikit-learn 0.23" in verdict.stdout
    assert f"{COMPAT}likely: with it, the script loads and init() goes on to read its model" in verdict.stdout
    assert "check again with --model-dir DIR --legacy-compat" in verdict.stdout
    assert "NoneType" not in verdict.stdout.split(COMPAT)[1]
