"""A real workspace per test: a SQLite file, or a real PostgreSQL server (MLDEPLOY_DATABASE_URL)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from mldeploy import Workspace
from mldeploy.workspace.schema import Base
from tests.support.postgres import PostgresUnavailable, postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as reason:
        pytest.skip(f"PostgreSQL store suite skipped: {reason}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The kind of store a new workspace gets: a SQLite file, or the PostgreSQL server (emptied) that
    MLDEPLOY_DATABASE_URL names, also for the subprocesses a test starts."""
    monkeypatch.delenv("MLDEPLOY_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
        monkeypatch.setenv("MLDEPLOY_DATABASE_URL", url)
    return request.param


@pytest.fixture
def workspace(store: str, tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "workspace")


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.pkl").write_bytes(b"weights" * 100)
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    (folder / "run.sh").write_text("#!/bin/sh\n")
    (folder / "run.sh").chmod(0o755)
    return folder
