"""Names and paths that would reach outside their folder (issue 13, item 7 and the requirements includes):
refused with a clear error before anything is stored or written, through the CLI as a user runs it."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mldeploy import Environment, Model, Workspace
from mldeploy.environments.spec import from_pip_requirements
from mldeploy.errors import InvalidName, SpecError
from tests.support.servers import SCRIPTS

SECRET = "root:x:0:0:root:/root:/bin/bash"  # an outside file's content that must never be read or quoted
BAD_NAMES = [
    "../evil",
    "/tmp/evil",
    "a\x00b",
    "x" * 5000,
    "x" * 256,
    "bad name!",
    "name\n",
    ".hidden",
    "-dash",
    "a/b",
    "",
]
GOOD_NAMES = ["churn", "my_model-1.0", "9lives", "A" * 255]


def mldeploy(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mldeploy", "--workspace", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr.replace("\n", ""), result.stderr


def stored_blobs(home: Path) -> list[bytes]:
    return [path.read_bytes() for path in (home / "blobs" / "sha256").rglob("*") if path.is_file()]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    return tmp_path / "workspace"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_model_and_environment_names_outside_the_rule_are_refused(home: Path, model_file: Path, name: str) -> None:
    workspace = Workspace(home)
    with pytest.raises(InvalidName, match=r"letters, digits, '-', '_' and '\.', starting with a letter or digit"):
        Model.register(workspace, model_file, name)
    requirements = model_file.with_name("requirements.txt")
    requirements.write_text("numpy\n")
    with pytest.raises(InvalidName, match=r"e\.g\. 'churn-model_v1\.2'"):
        Environment.from_pip_requirements(name, requirements).register(workspace)
    assert Model.list(workspace) == []
    assert Environment.list(workspace) == {}
    assert stored_blobs(home) == []


def test_the_cli_refuses_bad_names_with_exit_2_and_takes_azure_names(home: Path, model_file: Path) -> None:
    for name in ("../../evil", "x" * 5000):
        assert_refused(mldeploy(home, "model", "register", str(model_file), "--name", name), "1 to 255 letters")
    requirements = model_file.with_name("requirements.txt")
    requirements.write_text("numpy\n")
    built = mldeploy(home, "env", "build", "--name", "bad name!", "--pip-requirements", str(requirements))
    assert_refused(built, "'bad name!' is not allowed")
    assert not (home / "envs").exists()  # refused before the build
    assert not list(home.parent.glob("evil*"))
    for name in GOOD_NAMES:
        Model.register(Workspace(home), model_file, name)
    assert sorted(Workspace(home).models) == sorted(GOOD_NAMES)


@pytest.mark.parametrize("link_to", ["file", "folder"])
def test_a_link_out_of_the_model_folder_is_refused_and_nothing_is_stored(
    home: Path, tmp_path: Path, secret: Path, link_to: str
) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"weights")
    target = secret if link_to == "file" else secret.parent
    (folder / "leak").symlink_to(target)
    result = mldeploy(home, "model", "register", str(folder), "--name", "churn")
    assert_refused(result, f"The link {folder / 'leak'} ", f"points to {target}, outside", "copy that file into")
    assert not any(SECRET.encode() in blob for blob in stored_blobs(home))
    assert Model.list(Workspace(home)) == []


def test_links_inside_the_model_folder_are_followed(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "weights.bin").write_bytes(b"weights")
    (folder / "alias").symlink_to("data")
    (folder / "latest.bin").symlink_to(folder / "data" / "weights.bin")
    model = Model.register(Workspace(home), folder, "churn")
    assert model.files == ["outputs/alias/weights.bin", "outputs/data/weights.bin", "outputs/latest.bin"]
    downloaded = Path(model.download(tmp_path / "out"))
    assert (downloaded / "alias" / "weights.bin").read_bytes() == b"weights"


def test_a_link_loop_in_the_model_folder_is_refused(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "weights.bin").write_bytes(b"weights")
    (folder / "data" / "again").symlink_to("..")
    result = mldeploy(home, "model", "register", str(folder), "--name", "churn")
    assert_refused(result, f"The link {folder / 'data' / 'again'} leads back to a folder that holds it")


def test_a_folder_named_with_dotdot_is_stored_inside_its_own_name(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.pkl").write_bytes(b"weights")
    model = Model.register(Workspace(home), folder / "sub" / "..", "churn")
    assert model.files == ["outputs/model.pkl"]


def _tamper(home: Path, table: str, column: str, value: str) -> None:
    """Change the stored record by hand, as someone with write access to the database file could."""
    with sqlite3.connect(home / "mldeploy.db") as database:
        database.execute(f"UPDATE {table} SET {column} = ?", (value,))


@pytest.mark.parametrize("column", ["relative path", "absolute path", "blob digest"])
def test_download_refuses_a_tampered_record_and_writes_nothing_outside(
    home: Path, tmp_path: Path, model_file: Path, secret: Path, column: str
) -> None:
    assert mldeploy(home, "model", "register", str(model_file), "--name", "churn").returncode == 0
    escaped = tmp_path / "escaped.txt"
    tampered = {
        "relative path": ("path", "../escaped.txt"),
        "absolute path": ("path", str(escaped)),
        "blob digest": ("sha256", "../" * 12 + str(secret).lstrip("/")),
    }[column]
    _tamper(home, "model_files", *tampered)
    result = mldeploy(home, "model", "download", "churn:1", str(tmp_path / "out"))
    assert_refused(result, "register the model again")
    assert not escaped.exists()
    assert not any(SECRET in path.read_text() for path in tmp_path.glob("out/**/*") if path.is_file())


@pytest.mark.parametrize(
    "tampered", [("models", "name", "../../../../escaped"), ("model_files", "path", "../../../../../../escaped")]
)
def test_deploy_refuses_a_tampered_record_and_writes_nothing_outside(
    home: Path, tmp_path: Path, model_file: Path, tampered: tuple[str, str, str]
) -> None:
    assert mldeploy(home, "model", "register", str(model_file), "--name", "churn").returncode == 0
    _tamper(home, *tampered)
    model = "churn" if tampered[0] == "model_files" else tampered[2]
    entry = str(SCRIPTS / "echo.py")
    result = mldeploy(home, "deploy", "tampered", "--model", model, "--entry-script", entry)
    if result.returncode == 0:  # deployed anyway: stop the service before failing
        mldeploy(home, "service", "delete", "tampered")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "outside" in result.stderr
    assert not (home / "escaped").exists()
    assert not (home / "services" / "tampered").exists()


@pytest.mark.parametrize(
    "include",
    [
        "-r ../secret.txt",
        "-c ../secret.txt",
        "--requirement=../secret.txt",
        "--constraint ../secret.txt",
        "-rlink.txt",
    ],
)
def test_requirement_includes_outside_the_folder_are_refused_unread(tmp_path: Path, secret: Path, include: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.txt").symlink_to(secret)
    requirements = project / "requirements.txt"
    requirements.write_text(f"numpy\n{include}\n")
    with pytest.raises(SpecError, match="names a file outside") as refused:
        from_pip_requirements("serving", requirements)
    assert SECRET not in str(refused.value)
    command = ("env", "build", "--name", "serving", "--pip-requirements", "requirements.txt")
    built = mldeploy(tmp_path / "workspace", *command, cwd=project)
    assert_refused(built, "requirements.txt:2:", "outside")
    assert SECRET not in built.stderr


def test_requirement_includes_inside_the_folder_are_read_and_loops_named(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.txt").write_text("numpy\n")
    (tmp_path / "sub" / "more.txt").write_text("-r ../base.txt\njoblib\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("-r sub/more.txt\n")
    assert from_pip_requirements("serving", requirements).requirements == ("numpy", "joblib")
    (tmp_path / "base.txt").write_text("-r requirements.txt\n")
    with pytest.raises(SpecError, match="include each other"):
        from_pip_requirements("serving", requirements)
