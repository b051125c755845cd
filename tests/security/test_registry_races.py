"""Registrations racing each other (issue 13, item 5): ten real `mldeploy` processes registering one name at
once all succeed with versions 1..10, on SQLite and on PostgreSQL; a write lock held too long is named, with
the fix, instead of a traceback."""

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mldeploy import Environment, Model, Workspace
from tests.workspace.conftest import postgres_url, store

__all__ = ["postgres_url", "store"]  # the store suite's fixtures: a SQLite file or the real PostgreSQL server

PARALLEL = 10
REGISTER_ENVIRONMENT = (
    "import sys; from mldeploy import Environment, Workspace; "
    "print(Environment.from_pip_requirements('serving', sys.argv[2]).register(Workspace(sys.argv[1])).version)"
)


def _mldeploy(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mldeploy", "--workspace", str(home), *args]


def _run_all(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once, then collect them."""
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    results = []
    for command, process in zip(commands, processes, strict=True):
        stdout, stderr = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return results


def _assert_all_succeeded(results: list[subprocess.CompletedProcess[str]]) -> None:
    failures = [f"exit {r.returncode}: {r.stderr[-2000:]}" for r in results if r.returncode != 0]
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_parallel_model_registrations_of_one_name_get_versions_1_to_10(store: str, tmp_path: Path) -> None:
    home = tmp_path / "workspace"  # not created yet: the processes also race to create the workspace
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    results = _run_all([_mldeploy(home, "model", "register", str(model), "--name", "churn") for _ in range(PARALLEL)])
    _assert_all_succeeded(results)
    versions = sorted(registered.version for registered in Model.list(Workspace(home), name="churn"))
    assert versions == list(range(1, PARALLEL + 1))


@pytest.mark.slow
def test_parallel_environment_registrations_of_one_name_get_versions_1_to_10(store: str, tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    commands = []
    for index in range(PARALLEL):
        requirements = tmp_path / f"requirements-{index}.txt"
        requirements.write_text(f"package-{index}\n")
        commands.append([sys.executable, "-c", REGISTER_ENVIRONMENT, str(home), str(requirements)])
    results = _run_all(commands)
    _assert_all_succeeded(results)
    assert sorted(int(result.stdout) for result in results) == list(range(1, PARALLEL + 1))
    registered = {
        Environment.get(Workspace(home), "serving", version).requirements[0] for version in range(1, PARALLEL + 1)
    }
    assert registered == {f"package-{index}" for index in range(PARALLEL)}


@contextmanager
def _write_lock_held(store: str, home: Path) -> Iterator[None]:
    """Another connection holds the lock a registration of 'churn' needs, as a stuck writer would."""
    if store == "sqlite":
        holder = sqlite3.connect(home / "mldeploy.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(os.environ["MLDEPLOY_DATABASE_URL"])
    with engine.connect() as connection:
        connection.execute(text("SELECT * FROM model_names WHERE name = 'churn' FOR UPDATE"))
        yield
        connection.rollback()
    engine.dispose()


@pytest.mark.slow
def test_a_write_lock_held_too_long_is_named_with_the_fix(store: str, tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    Model.register(Workspace(home), model, "churn")
    with _write_lock_held(store, home):
        blocked = subprocess.run(
            _mldeploy(home, "model", "register", str(model), "--name", "churn"),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "MLDEPLOY_LOCK_TIMEOUT_S": "1"},
        )
    assert blocked.returncode == 1, blocked.stderr
    assert "Traceback" not in blocked.stderr
    assert "locked by another process" in blocked.stderr
    assert "MLDEPLOY_LOCK_TIMEOUT_S" in blocked.stderr
    assert [m.version for m in Model.list(Workspace(home), name="churn")] == [1]
    assert Model.register(Workspace(home), model, "churn").version == 2
