"""`mldeploy model ...` as a script would use it: JSON output and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def mldeploy(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mldeploy", "--workspace", str(home), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    return tmp_path / "workspace"


def test_register_list_show_download_delete(home: Path, model_folder: Path, tmp_path: Path) -> None:
    registered = mldeploy(home, "model", "register", str(model_folder), "--name", "churn", "--tag", "stage=dev",
                          "--description", "first", "-o", "json")  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)[0]["id"] == "churn:1"
    mldeploy(home, "model", "register", str(model_folder / "model.pkl"), "--name", "churn")
    listed = json.loads(mldeploy(home, "model", "list", "--tag", "stage=dev", "-o", "json").stdout)
    assert [row["id"] for row in listed] == ["churn:1"]
    shown = json.loads(mldeploy(home, "model", "show", "churn", "-o", "json").stdout)
    assert shown[0]["files"] == ["model.pkl"]
    downloaded = mldeploy(home, "model", "download", "churn:1", str(tmp_path / "out"))
    assert downloaded.returncode == 0
    assert (tmp_path / "out" / "outputs" / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert mldeploy(home, "model", "delete", "churn:2").returncode == 0
    assert [row["id"] for row in json.loads(mldeploy(home, "model", "list", "-o", "json").stdout)] == ["churn:1"]


def test_errors_have_exit_codes_scripts_can_trust(home: Path, model_folder: Path) -> None:
    missing = mldeploy(home, "model", "show", "nope")
    assert missing.returncode == 3
    assert "No model 'nope'" in missing.stderr
    assert mldeploy(home, "model", "register", "/does/not/exist", "--name", "x").returncode == 2
    assert mldeploy(home, "model", "register", str(model_folder), "--name", "x", "--tag", "novalue").returncode == 2
    bad_name = mldeploy(home, "model", "register", str(model_folder), "--name", "bad name!")
    assert bad_name.returncode == 2
    assert len(bad_name.stderr.splitlines()) == 1 and "'bad name!' is not allowed" in bad_name.stderr
    no_version = mldeploy(home, "model", "delete", "x")
    assert no_version.returncode == 2
    assert "Name the version to delete" in no_version.stderr
    assert "Traceback" not in missing.stderr + no_version.stderr + bad_name.stderr
