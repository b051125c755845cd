"""Registered environments: versions of normalized specs, by name."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..environments.spec import EnvironmentSpec
from ..errors import EnvironmentNotFound
from ..wording import phrase
from .locking import write
from .names import check_registry_name
from .schema import EnvironmentName, EnvironmentRow
from .versions import locked_counter


def _record(session: Session, spec: EnvironmentSpec) -> int:
    counter = locked_counter(session, EnvironmentName, EnvironmentRow, spec.name)
    latest = session.scalars(
        select(EnvironmentRow).where(EnvironmentRow.name == spec.name).order_by(EnvironmentRow.version.desc())
    ).first()
    if latest is not None and EnvironmentSpec.from_json(latest.spec) == spec:
        return latest.version
    counter.last_version += 1
    session.add(EnvironmentRow(name=spec.name, version=counter.last_version, spec=spec.to_json()))
    return counter.last_version


def register(writes: sessionmaker[Session], spec: EnvironmentSpec) -> int:
    """Store ``spec`` as the next version of its name, unless it equals the latest one; the version."""
    check_registry_name("environment", spec.name)
    return write(writes, lambda session: _record(session, spec))


def get(sessions: sessionmaker[Session], name: str, version: int | None = None) -> tuple[EnvironmentSpec, int]:
    with sessions() as session:
        query = select(EnvironmentRow).where(EnvironmentRow.name == name)
        query = query.where(EnvironmentRow.version == version) if version is not None else query
        row = session.scalars(query.order_by(EnvironmentRow.version.desc())).first()
        names = sorted(set(session.scalars(select(EnvironmentRow.name))))
    if row is None:
        known = ", ".join(names) or "none yet"
        raise EnvironmentNotFound(
            f"No environment {name!r} in this workspace (registered: {known}). Register it with "
            + phrase(
                api="Environment.from_conda_specification(NAME, FILE).register(ws) (or from_pip_requirements).",
                cli="mldeploy env build --name NAME --conda-file F (or --pip-requirements F).",
            )
        )
    return EnvironmentSpec.from_json(row.spec), row.version


def latest_all(sessions: sessionmaker[Session]) -> list[tuple[EnvironmentSpec, int]]:
    with sessions() as session:
        rows = session.scalars(select(EnvironmentRow).order_by(EnvironmentRow.name, EnvironmentRow.version.desc()))
        newest: dict[str, EnvironmentRow] = {}
        for row in rows:
            newest.setdefault(row.name, row)
    return [(EnvironmentSpec.from_json(row.spec), row.version) for row in newest.values()]
