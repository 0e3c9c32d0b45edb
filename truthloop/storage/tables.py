"""The tables. Every change here comes with an Alembic migration in migrations/versions/.

The foundation holds datasets of images and their annotations. Later workflows (labeling jobs
and tasks, model versions, human loops, pipeline runs) add their own tables and point at these:
an annotation already records who made it (`worker`), in which job (`job_name`), how long it took
(`seconds`) and whether a person, a model or a consolidation of several people made it
(`source`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so that Alembic migrations can address them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class LabelSetRow(Base):
    __tablename__ = "label_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    labels: Mapped[list[LabelRow]] = relationship(
        back_populates="label_set", order_by="LabelRow.class_id", cascade="all, delete-orphan"
    )


class LabelRow(Base):
    """One class of a label set; `class_id` is the integer manifests use for it."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("label_set_id", "name", name="uq_labels_set_name"),
        UniqueConstraint("label_set_id", "class_id", name="uq_labels_set_class_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    class_id: Mapped[int] = mapped_column(Integer)
    label_set: Mapped[LabelSetRow] = relationship(back_populates="labels")


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    label_set: Mapped[LabelSetRow] = relationship()


class ItemRow(Base):
    """One image of a dataset. `uri` is where to read it: a local path, or an fsspec URL."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "uri", name="uq_items_dataset_uri"),
        Index("ix_items_dataset_hash", "dataset_id", "content_hash"),
        Index("ix_items_dataset_split", "dataset_id", "split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    uri: Mapped[str] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    split: Mapped[str] = mapped_column(String(16), default="unassigned")
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AnnotationRow(Base):
    """One label attribute of one item: the value (class, classes, boxes or a verdict) and who
    made it, when, in which job, how confidently and in how many seconds."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_item", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    attribute: Mapped[str | None] = mapped_column(String(256))
    value: Mapped[dict[str, Any]] = mapped_column(Json)
    source: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(256))
    job_name: Mapped[str | None] = mapped_column(String(256))
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
