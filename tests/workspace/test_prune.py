"""`mldeploy workspace prune [--dry-run]` (issue 14, item 4): what nothing uses goes, what anything uses stays,
and registrations running at the same time keep every file they record (real processes, SQLite and
PostgreSQL)."""

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import ImageNotFound
from sqlalchemy import create_engine, text

from mldeploy import Environment, Model, Workspace
from mldeploy.environments.build import COMPLETE
from mldeploy.errors import DockerUnavailable
from mldeploy.workspace.services import ServiceRecord, services_root
from tests.workspace.test_cli import mldeploy

HOURS_AGO = 2 * 3600  # older than the default grace period (1 h)
REGISTRATIONS = 6
FILES_PER_MODEL = 100


def _age(*paths: Path) -> None:
    """Make ``paths`` (and everything under folders) look last changed two hours ago."""
    then = time.time() - HOURS_AGO
    for path in paths:
        for entry in [*(path.rglob("*") if path.is_dir() else []), path]:
            os.utime(entry, (then, then), follow_symlinks=False)


def _prune(home: Path, *args: str) -> list[dict[str, Any]]:
    result = mldeploy(home, "workspace", "prune", "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def _blob(workspace: Workspace, model: Model, path: str) -> Path:
    return workspace._store.blobs.path(next(f.sha256 for f in model._row.files if f.path == path))


def test_a_dry_run_lists_what_a_real_run_removes_and_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "shared.bin").write_bytes(b"s" * 1000)
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "shared.bin").write_bytes(b"s" * 1000)
    (tmp_path / "gone" / "own.bin").write_bytes(b"o" * 2345)
    kept = Model.register(workspace, tmp_path / "kept", "kept")
    gone = Model.register(workspace, tmp_path / "gone", "gone")
    own, shared = _blob(workspace, gone, "gone/own.bin"), _blob(workspace, kept, "kept/shared.bin")
    gone.delete()
    _age(workspace.path / "blobs")
    planned = _prune(workspace.path, "--dry-run")
    assert planned == [{"kind": "blob", "what": str(own), "size": 2345}]
    assert own.exists()
    assert _prune(workspace.path) == planned
    assert not own.exists() and shared.exists()
    assert _prune(workspace.path) == []
    Model.list(workspace, name="kept")[0].download(tmp_path / "out")
    assert (tmp_path / "out" / "kept" / "shared.bin").read_bytes() == b"s" * 1000


def test_blobs_changed_within_the_grace_period_stay(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"fresh")
    model = Model.register(workspace, tmp_path / "model.bin", "fresh")
    blob = _blob(workspace, model, "model.bin")
    model.delete()
    assert _prune(workspace.path) == []
    assert [row["what"] for row in _prune(workspace.path, "--min-age", "0")] == [str(blob)]
    assert not blob.exists()


def _old_orphan(workspace: Workspace, tmp_path: Path, name: str) -> Path:
    """The blob of a one-file model registered as ``name``, deleted, and last changed two hours ago."""
    (tmp_path / f"{name}.bin").write_bytes(name.encode())
    model = Model.register(workspace, tmp_path / f"{name}.bin", name)
    blob = _blob(workspace, model, f"{name}.bin")
    model.delete()
    _age(blob)
    return blob


def test_an_old_orphan_stored_again_by_a_registration_counts_as_fresh(workspace: Workspace, tmp_path: Path) -> None:
    blob = _old_orphan(workspace, tmp_path, "first")
    workspace._store.blobs.put(tmp_path / "first.bin")  # a registration of the same content, its row not yet written
    assert _prune(workspace.path) == []
    assert blob.exists()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_staging_leftovers_of_killed_registrations_and_builds_go_live_ones_stay(tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    Workspace(home)
    staging, envs = home / "blobs" / "staging", home / "envs"
    staging.mkdir(parents=True)
    (staging / "tmpkilled").write_bytes(b"k" * 10)
    (staging / "tmpwriting").write_bytes(b"w" * 10)
    killed_build = f".abc.{_dead_pid()}"
    (envs / killed_build / "bin").mkdir(parents=True)
    (envs / f".def.{os.getpid()}" / "bin").mkdir(parents=True)
    (envs / "incomplete" / "bin").mkdir(parents=True)
    _age(staging / "tmpkilled", envs / "incomplete")
    removed = {Path(row["what"]).name for row in _prune(home)}
    assert removed == {"tmpkilled", killed_build, "incomplete"}
    assert sorted(path.name for path in staging.iterdir()) == ["tmpwriting"]
    assert sorted(path.name for path in envs.iterdir()) == [f".def.{os.getpid()}"]


def _built(envs: Path, folder: str, environment: Environment) -> Path:
    """A folder laid out as environments.build leaves a built environment."""
    (envs / folder / "bin").mkdir(parents=True)
    (envs / folder / "bin" / "python").write_text("")
    (envs / folder / "spec.json").write_text(environment.spec.to_json())
    (envs / folder / COMPLETE).write_text("3.11")
    return envs / folder


def test_environments_a_registered_environment_or_a_service_uses_stay(workspace: Workspace, tmp_path: Path) -> None:
    envs = workspace.path / "envs"
    specs = {}
    for name in ("registered", "served", "unused"):
        (tmp_path / f"{name}.txt").write_text(f"package-{name}\n")
        specs[name] = Environment.from_pip_requirements(name, tmp_path / f"{name}.txt")
    specs["registered"].register(workspace)
    folders = {name: _built(envs, f"{name}-hash", environment) for name, environment in specs.items()}
    record = ServiceRecord("served-svc", "local", 1, str(services_root(workspace.path) / "served-svc"))
    record.python = str(folders["served"] / "bin" / "python")
    record.path.mkdir(parents=True)
    record.save()
    _age(envs)
    assert [row["what"] for row in _prune(workspace.path)] == [str(folders["unused"])]
    assert sorted(path.name for path in envs.iterdir()) == ["registered-hash", "served-hash"]


def _model_folder(root: Path, index: int) -> Path:
    folder = root / f"model-{index}"
    folder.mkdir()
    for number in range(FILES_PER_MODEL):
        (folder / f"part-{number}.bin").write_bytes(f"model {index} part {number}".encode())
    return folder


def _register(home: Path, folder: Path, name: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(home), "model", "register", str(folder), "--name"]
    return subprocess.Popen([*command, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_every_file_kept(workspace: Workspace, registrations: list[subprocess.Popen[str]]) -> None:
    outcomes = [process.communicate(timeout=180) for process in registrations]
    assert all(process.returncode == 0 for process in registrations), outcomes
    for index in range(len(registrations)):
        model = Model.list(workspace, name=f"model-{index}")[0]
        missing = [f.path for f in model._row.files if not workspace._store.blobs.path(f.sha256).exists()]
        assert missing == [], f"model-{index} lost {len(missing)} files to a concurrent prune"


@pytest.mark.slow
def test_registrations_running_during_prunes_keep_every_file(workspace: Workspace, tmp_path: Path) -> None:
    """Old orphans go; every file a registration records while prunes run again and again is still there."""
    orphan_blob = _old_orphan(workspace, tmp_path, "orphan")
    home = workspace.path
    registrations = [
        _register(home, _model_folder(tmp_path, index), f"model-{index}") for index in range(REGISTRATIONS)
    ]
    prunes = 0
    while prunes < 2 or any(process.poll() is None for process in registrations):
        _prune(home)
        prunes += 1
    _assert_every_file_kept(workspace, registrations)
    assert not orphan_blob.exists()


@pytest.mark.slow
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_registration_between_storing_and_recording_its_files_keeps_them(
    store: str, workspace: Workspace, tmp_path: Path
) -> None:
    """A registration that has stored its blobs and waits to record them (its name's counter is locked, as
    by another registration of the name) while a prune runs: the prune leaves the blobs."""
    content = f"new content {tmp_path}".encode()
    (tmp_path / "seed.bin").write_bytes(content + b" seed")
    Model.register(workspace, tmp_path / "seed.bin", "model-0")  # the name's counter row exists, to be locked
    folder = _model_folder(tmp_path, 0)
    (folder / "new.bin").write_bytes(content)
    new_blob = workspace._store.blobs.path(hashlib.sha256(content).hexdigest())
    engine = create_engine(os.environ["MLDEPLOY_DATABASE_URL"])
    with engine.connect() as connection:
        connection.execute(text("SELECT * FROM model_names WHERE name = 'model-0' FOR UPDATE"))
        registration = _register(workspace.path, folder, "model-0")
        while not new_blob.exists() and registration.poll() is None:
            time.sleep(0.05)
        _prune(workspace.path)
        connection.rollback()
    engine.dispose()
    _assert_every_file_kept(workspace, [registration])
    assert new_blob.exists()


def test_without_a_docker_engine_images_are_skipped_and_the_rest_is_done(tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    result = subprocess.run(
        [sys.executable, "-m", "mldeploy", "--workspace", str(home), "workspace", "prune"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "images skipped: The Docker engine does not answer" in result.stderr
    assert "Traceback" not in result.stderr
    assert "0 items; freed 0 B" in result.stderr


@pytest.fixture
def docker_client() -> Iterator[Any]:
    from mldeploy.targets.docker_engine import connect

    try:
        client = connect()
    except DockerUnavailable as reason:
        pytest.skip(f"Docker tests skipped: {reason}")
    yield client
    client.close()


def _tiny_image(client: Any, tags: list[str], content: bytes) -> str:
    """An image of one small file, made here (nothing pulled), with ``tags``; its id."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        entry = tarfile.TarInfo("content.txt")
        entry.size = len(content)
        tar.addfile(entry, io.BytesIO(content))
    first, *others = tags
    repository, _, tag = first.rpartition(":")
    client.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    image = client.images.get(first)
    for other in others:
        image.tag(*other.rsplit(":", 1))
    return str(image.id)


def test_only_our_own_tags_of_deleted_services_go(docker_client: Any, tmp_path: Path) -> None:
    from mldeploy.targets.image_prune import repository_of

    home = tmp_path / "workspace"
    Workspace(home)
    alive = ServiceRecord("alive-svc", "docker", 1, str(services_root(home) / "alive-svc"))
    alive.path.mkdir(parents=True)
    alive.save()
    gone, shared = f"{repository_of(home, 'gone-svc')}:1", f"{repository_of(home, 'shared-svc')}:2"
    users = f"mldeploy-prune-test/{tmp_path.name}:1"
    other_workspace = f"{repository_of(tmp_path / 'elsewhere', 'gone-svc')}:1"
    kept = [f"{repository_of(home, 'alive-svc')}:1", other_workspace, users]
    images = [
        _tiny_image(docker_client, [gone], str(tmp_path).encode()),
        _tiny_image(docker_client, [shared, users], f"{tmp_path} shared".encode()),
        _tiny_image(docker_client, [kept[0]], f"{tmp_path} alive".encode()),
        _tiny_image(docker_client, [other_workspace], f"{tmp_path} elsewhere".encode()),
    ]
    try:
        planned = [(row["what"], row["size"] > 0) for row in _prune(home, "--dry-run") if row["kind"] == "image"]
        assert sorted(planned) == [(gone, True), (shared, False)]
        assert docker_client.images.get(gone)
        assert [(row["what"], row["size"] > 0) for row in _prune(home) if row["kind"] == "image"] == planned
        tags = {tag for image in docker_client.images.list() for tag in image.tags}
        assert gone not in tags and shared not in tags
        assert set(kept) <= tags
    finally:
        for image in images:
            with contextlib.suppress(ImageNotFound):
                docker_client.images.remove(image, force=True)


def test_an_image_a_container_still_uses_stays_and_is_not_reported(docker_client: Any, tmp_path: Path) -> None:
    from mldeploy.targets.image_prune import repository_of

    home = tmp_path / "workspace"
    Workspace(home)
    tag = f"{repository_of(home, 'used-svc')}:1"
    image = _tiny_image(docker_client, [tag], f"{tmp_path} used".encode())
    container = docker_client.containers.create(image, command=["/content.txt"])
    try:
        assert [row["what"] for row in _prune(home, "--dry-run")] == [tag]
        assert _prune(home) == []
        assert tag in docker_client.images.get(image).tags
    finally:
        container.remove(force=True)
        docker_client.images.remove(image, force=True)
