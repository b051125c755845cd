"""Tables of the workspace store. One registration = one transaction over these tables."""

import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class NameCounter:
    """The last version handed out per name: versions are never reused, even after a delete. Registrations
    of a name lock its row, so they hand out versions one after the other."""

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_version: Mapped[int] = mapped_column(Integer)


class ModelName(NameCounter, Base):
    __tablename__ = "model_names"


class EnvironmentName(NameCounter, Base):
    __tablename__ = "environment_names"


class Versioned:
    """The columns of a registry entry: one row per (name, version)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_time: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ModelRow(Versioned, Base):
    __tablename__ = "models"
    description: Mapped[str | None] = mapped_column(Text, default=None)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    files: Mapped[list["ModelFileRow"]] = relationship(
        back_populates="model", cascade="all, delete-orphan", order_by="ModelFileRow.path", lazy="selectin"
    )


class ModelFileRow(Base):
    """One file of a model: its path as deployed under azureml-models/<name>/<version>/, and its blob."""

    __tablename__ = "model_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    executable: Mapped[bool] = mapped_column(default=False)
    model: Mapped[ModelRow] = relationship(back_populates="files")


class EnvironmentRow(Versioned, Base):
    """A registered environment version: the normalized spec (JSON) it was parsed into."""

    __tablename__ = "environments"
    spec: Mapped[str] = mapped_column(Text)
