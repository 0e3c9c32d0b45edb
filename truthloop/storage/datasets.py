"""Datasets, their items and annotations: the queries, in one place, for every layer above."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from truthloop.core.serialize import value_confidence, value_from_json, value_to_json
from truthloop.core.types import (
    Annotation,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
    Split,
    Value,
    label_names,
)
from truthloop.errors import AlreadyExists, Conflict, NotFound
from truthloop.storage.db import json_text
from truthloop.storage.tables import (
    AnnotationRow,
    DatasetRow,
    ItemRow,
    LabelRow,
    LabelSetRow,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class NewItem:
    """A record ready to store, with the content hash when the image was read."""

    record: ImageRecord
    content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class LabelCounts:
    """What one label attribute holds (`None`: annotations imported without one). Counted
    apart because a dataset holds several labelings of the same images (the imported truth, a
    job's answers, a model's proposals) and counts summed across them describe none of them.

    An image counts once, by its label: its newest annotation under the attribute, as a job's
    output manifest gives it. A second person's label of the same image (a disputed validation
    item) or a person's correction of a model's label replaces the first, so `sources` (images
    by where their label came from) adds up to `images`."""

    attribute: str | None
    images: int
    images_per_label: dict[str, int]
    objects_per_label: dict[str, int]
    sources: dict[str, int]


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    name: str
    items: int
    annotations: int
    labels: tuple[str, ...]
    attributes: tuple[LabelCounts, ...]
    items_per_split: dict[str, int]
    sources: dict[str, int]


def get_dataset(session: Session, name: str) -> DatasetRow:
    row = session.scalar(select(DatasetRow).where(DatasetRow.name == name))
    if row is None:
        known = session.scalars(select(DatasetRow.name).order_by(DatasetRow.name).limit(20)).all()
        raise NotFound(f"no dataset named {name!r} (datasets: {', '.join(known) or 'none'})")
    return row


def find_dataset(session: Session, name: str) -> DatasetRow | None:
    return session.scalar(select(DatasetRow).where(DatasetRow.name == name))


def create_dataset(
    session: Session, name: str, label_set: LabelSet, *, description: str = ""
) -> DatasetRow:
    if find_dataset(session, name) is not None:
        raise AlreadyExists(f"a dataset named {name!r} already exists")
    label_row = LabelSetRow(name=_free_label_set_name(session, name))
    session.add(label_row)
    dataset = DatasetRow(name=name, label_set=label_row, description=description)
    session.add(dataset)
    session.flush()
    save_label_set(session, dataset, label_set)
    return dataset


def _free_label_set_name(session: Session, base: str) -> str:
    name, n = base, 1
    while session.scalar(select(LabelSetRow.id).where(LabelSetRow.name == name)) is not None:
        n += 1
        name = f"{base}-{n}"
    return name


def label_set_of(session: Session, dataset: DatasetRow) -> LabelSet:
    rows = session.execute(
        select(LabelRow.name, LabelRow.class_id).where(
            LabelRow.label_set_id == dataset.label_set_id
        )
    ).all()
    return LabelSet({name: class_id for name, class_id in rows})


def save_label_set(session: Session, dataset: DatasetRow, label_set: LabelSet) -> None:
    """Add the labels of `label_set` the dataset does not have yet (labels are never removed)."""
    known = label_set_of(session, dataset)
    for name in label_set.names:
        if name not in known:
            known = known.with_label(name, label_set.id_of(name))
            session.add(
                LabelRow(label_set_id=dataset.label_set_id, name=name, class_id=known.id_of(name))
            )
    session.flush()


def known_uris(session: Session, dataset_id: int, uris: Iterable[str]) -> set[str]:
    wanted = list(set(uris))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            session.scalars(
                select(ItemRow.uri).where(ItemRow.dataset_id == dataset_id, ItemRow.uri.in_(chunk))
            )
        )
    return found


def known_hashes(session: Session, dataset_id: int, hashes: Iterable[str]) -> dict[str, str]:
    """content hash -> uri of the item that already has it."""
    wanted = list(set(hashes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(ItemRow.content_hash, ItemRow.uri).where(
                ItemRow.dataset_id == dataset_id, ItemRow.content_hash.in_(chunk)
            )
        )
        found.update({h: uri for h, uri in rows if h is not None})
    return found


ITEM_COLUMNS = (
    "id",
    "dataset_id",
    "uri",
    "width",
    "height",
    "depth",
    "content_hash",
    "split",
    "extra",
    "created_at",
)
ANNOTATION_COLUMNS = (
    "item_id",
    "kind",
    "attribute",
    "value",
    "source",
    "confidence",
    "worker",
    "job_name",
    "seconds",
    "created_at",
    "extra",
)


class ItemRows(NamedTuple):
    """An item and its annotations in the form of their rows, less what storing adds (ids and
    the time stored): cheap to build, to pass between processes, and to store in bulk."""

    item: tuple[object, ...]  # ITEM_COLUMNS[2:-1]
    annotations: tuple[tuple[object, ...], ...]  # ANNOTATION_COLUMNS[1:]

    @property
    def uri(self) -> str:
        return str(self.item[0])

    @property
    def content_hash(self) -> str | None:
        return self.item[4]  # type: ignore[return-value]


def item_rows(record: ImageRecord, content_hash: str | None = None) -> ItemRows:
    # Imports build one of these per line: enum values are read as `_value_`, which costs a
    # fraction of the `value` property.
    size = record.size
    return ItemRows(
        (
            record.uri,
            size.width if size else None,
            size.height if size else None,
            size.depth if size else None,
            content_hash,
            (record.split or Split.UNASSIGNED)._value_,
            json_text(record.extra) if record.extra else "{}",
        ),
        tuple([annotation_values(annotation) for annotation in record.annotations]),
    )


def insert_items(session: Session, dataset_id: int, items: Sequence[NewItem]) -> list[int]:
    """Store items and their annotations in bulk; returns the new item ids in order."""
    rows = [item_rows(item.record, item.content_hash) for item in items]
    return store_rows(session, dataset_id, rows)


def store_rows(session: Session, dataset_id: int, items: Sequence[ItemRows]) -> list[int]:
    """Store items given as rows (`item_rows`); returns the new item ids in order.

    Imports write millions of rows, so this goes below the ORM: ids are allocated up front,
    then rows go in by `executemany` (SQLite) or `COPY` (PostgreSQL), inside the caller's
    transaction. A unique constraint broken (the same image twice) raises Conflict and leaves
    nothing of the batch stored.
    """
    if not items:
        return []
    try:
        with session.begin_nested():
            return _store_rows(session.connection(), dataset_id, items)
    except _integrity_errors(session) as error:
        raise Conflict(str(error).splitlines()[0]) from error


def _integrity_errors(session: Session) -> tuple[type[Exception], ...]:
    """What a broken unique constraint raises: SQLAlchemy's error, or the driver's own (sqlite3's,
    psycopg's) from a raw `executemany` or `COPY`. The driver is looked up only on an error, so
    listing datasets never imports psycopg."""
    return (IntegrityError, DBAPIError, session.get_bind().dialect.loaded_dbapi.IntegrityError)


def _store_rows(connection: Connection, dataset_id: int, items: Sequence[ItemRows]) -> list[int]:
    ids = _allocate_item_ids(connection, len(items))
    now = stored_time(utcnow())
    item_rows = [
        (item_id, dataset_id, *it.item, now) for item_id, it in zip(ids, items, strict=True)
    ]
    annotation_rows = [
        (item_id, *annotation)
        for item_id, it in zip(ids, items, strict=True)
        for annotation in it.annotations
    ]
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, "items", ITEM_COLUMNS, item_rows)
        _copy_rows(connection, "annotations", ANNOTATION_COLUMNS, annotation_rows)
    else:
        _insert_rows(connection, "items", ITEM_COLUMNS, item_rows)
        _insert_rows(connection, "annotations", ANNOTATION_COLUMNS, annotation_rows)
    return ids


def _allocate_item_ids(connection: Connection, n: int) -> list[int]:
    if connection.dialect.name == "postgresql":
        # One row holding every id: a row per id costs more than storing the item.
        ids = connection.exec_driver_sql(
            "SELECT array_agg(nextval(pg_get_serial_sequence('items', 'id')))"
            " FROM generate_series(1, %(n)s)",
            {"n": n},
        ).scalar_one()
        return sorted(ids)
    # SQLite gives a new row max(id) + 1; the write lock this transaction holds once it has
    # written (see db.py) keeps that true until it commits.
    connection.exec_driver_sql("UPDATE items SET id = id WHERE 0")
    last = connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM items").scalar_one()
    first = int(last) + 1
    return list(range(first, first + n))


def _insert_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: list[tuple[object, ...]]
) -> None:
    if rows:
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )


def _copy_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: list[tuple[object, ...]]
) -> None:
    if not rows:
        return
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def stored_time(moment: datetime | None) -> str | None:
    """A time as bulk rows carry it: UTC without an offset (as the tables keep times), in the
    text SQLAlchemy itself stores in SQLite, which PostgreSQL reads as well. Text also costs
    less than a datetime to pass between processes; isoformat writes it several times faster
    than strftime."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(" ", "microseconds")


def annotation_values(annotation: Annotation) -> tuple[object, ...]:
    """An annotation's row less its item id (`ANNOTATION_COLUMNS[1:]`)."""
    value = annotation.value
    return (
        value.kind._value_,
        annotation.attribute,
        json_text(value_to_json(value)),
        annotation.source._value_,
        value_confidence(value),
        annotation.worker,
        annotation.job_name,
        annotation.seconds,
        stored_time(annotation.created_at),
        json_text(dict(annotation.metadata)) if annotation.metadata else "{}",
    )


def annotation_row(item_id: int, annotation: Annotation) -> dict[str, object]:
    return {
        "item_id": item_id,
        "kind": annotation.kind.value,
        "attribute": annotation.attribute,
        "value": value_to_json(annotation.value),
        "source": annotation.source.value,
        "confidence": value_confidence(annotation.value),
        "worker": annotation.worker,
        "job_name": annotation.job_name,
        "seconds": annotation.seconds,
        "created_at": annotation.created_at,
        "extra": dict(annotation.metadata),
    }


def iter_records(
    session: Session,
    dataset_id: int,
    *,
    split: Split | None = None,
    batch: int = 2000,
) -> Iterator[tuple[int, ImageRecord]]:
    """(item id, record) for every item, in id order, reading `batch` items at a time.

    Exports stream millions of rows through here, so it selects plain columns (no ORM
    entities) and reads each batch's annotations by a range scan on the item-id index.
    """
    last_id = 0
    while True:
        query = select(*ITEM_FIELDS).where(ItemRow.dataset_id == dataset_id, ItemRow.id > last_id)
        if split is not None:
            query = query.where(ItemRow.split == split.value)
        items = session.execute(query.order_by(ItemRow.id).limit(batch)).all()
        if not items:
            return
        annotations: dict[int, list[Annotation]] = {item.id: [] for item in items}
        rows = session.execute(
            select(*ANNOTATION_FIELDS)
            .where(AnnotationRow.item_id.between(items[0].id, items[-1].id))
            .order_by(AnnotationRow.item_id, AnnotationRow.id)
        )
        for row in rows:
            # The id range may hold items of other datasets or splits: skip theirs.
            found = annotations.get(row.item_id)
            if found is not None:
                found.append(annotation_from_row(row))
        for item in items:
            yield item.id, item_record(item, annotations[item.id])
        last_id = items[-1].id


ITEM_FIELDS = (
    ItemRow.id,
    ItemRow.uri,
    ItemRow.width,
    ItemRow.height,
    ItemRow.depth,
    ItemRow.split,
    ItemRow.extra,
)
ANNOTATION_FIELDS = (
    AnnotationRow.item_id,
    AnnotationRow.kind,
    AnnotationRow.value,
    AnnotationRow.source,
    AnnotationRow.attribute,
    AnnotationRow.job_name,
    AnnotationRow.created_at,
    AnnotationRow.worker,
    AnnotationRow.seconds,
    AnnotationRow.extra,
)


def item_record(item: ItemRow | Row[Any], annotations: Iterable[Annotation]) -> ImageRecord:
    """The record of a stored item: an ORM row, or a row of `ITEM_FIELDS`."""
    size = (
        ImageSize(item.width, item.height, item.depth or 3)
        if item.width is not None and item.height is not None
        else None
    )
    return ImageRecord(
        uri=item.uri,
        size=size,
        annotations=tuple(annotations),
        extra=item.extra or {},
        split=Split(item.split),
    )


def annotation_from_row(row: AnnotationRow | Row[Any]) -> Annotation:
    """The annotation of a stored row: an ORM row, or a row of `ANNOTATION_FIELDS`."""
    return Annotation(
        value=value_from_json(row.kind, row.value),
        source=Source(row.source),
        attribute=row.attribute,
        job_name=row.job_name,
        created_at=row.created_at,
        worker=row.worker,
        seconds=row.seconds,
        metadata=row.extra or {},
    )


def count_items(session: Session, dataset_id: int) -> int:
    return int(
        session.scalar(select(func.count(ItemRow.id)).where(ItemRow.dataset_id == dataset_id)) or 0
    )


def list_datasets(session: Session) -> list[tuple[DatasetRow, int]]:
    """Every dataset with its item count, by name."""
    counts = (
        select(ItemRow.dataset_id, func.count(ItemRow.id).label("n"))
        .group_by(ItemRow.dataset_id)
        .subquery()
    )
    rows = session.execute(
        select(DatasetRow, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.dataset_id == DatasetRow.id)
        .order_by(DatasetRow.name)
    ).all()
    return [(row, int(n)) for row, n in rows]


def summarize(session: Session, dataset: DatasetRow) -> DatasetSummary:
    """Counts per split and per annotation source, and per label attribute: the images it
    labels, and per label the images and the objects."""
    per_split = dict(
        session.execute(
            select(ItemRow.split, func.count(ItemRow.id))
            .where(ItemRow.dataset_id == dataset.id)
            .group_by(ItemRow.split)
        ).all()
    )
    rows = session.execute(
        select(AnnotationRow.attribute, AnnotationRow.item_id, AnnotationRow.kind,
               AnnotationRow.value, AnnotationRow.source)
        .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
        .where(ItemRow.dataset_id == dataset.id)
        .order_by(AnnotationRow.attribute, AnnotationRow.item_id, AnnotationRow.id)
        .execution_options(yield_per=5000)
    )
    counts: dict[str | None, _Tally] = {}
    for attribute, item_id, kind, value, source in rows:
        counts.setdefault(attribute, _Tally()).add(item_id, value_from_json(kind, value), source)
    attributes = tuple(
        counts[name].counts(name) for name in sorted(counts, key=lambda a: (a is not None, a))
    )
    sources: Counter[str] = Counter()
    for tally in counts.values():
        sources.update(tally.annotations)
    return DatasetSummary(
        name=dataset.name,
        items=sum(per_split.values()),
        annotations=sum(sources.values()),
        labels=label_set_of(session, dataset).names,
        attributes=attributes,
        items_per_split=per_split,
        sources=dict(sources.most_common()),
    )


@dataclass
class _Tally:
    """One attribute's counts, fed its annotations in item order and each item's in the order
    they were made (so that an image is counted once, by its newest annotation, without
    holding every item's id). `annotations` counts every annotation, by source."""

    items: int = 0
    images: Counter[str] = field(default_factory=Counter)
    objects: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    annotations: Counter[str] = field(default_factory=Counter)
    item: int | None = None
    label: tuple[Value, str] | None = None

    def add(self, item_id: int, value: Value, source: str) -> None:
        if item_id != self.item:
            self._count_label()
            self.item = item_id
            self.items += 1
        self.label = (value, source)
        self.annotations[source] += 1

    def _count_label(self) -> None:
        if self.label is None:
            return
        value, source = self.label
        self.label = None
        self.sources[source] += 1
        names = label_names(value)
        self.objects.update(names)
        self.images.update(dict.fromkeys(names, 1))

    def counts(self, attribute: str | None) -> LabelCounts:
        self._count_label()
        return LabelCounts(
            attribute=attribute,
            images=self.items,
            images_per_label=dict(self.images.most_common()),
            objects_per_label=dict(self.objects.most_common()),
            sources=dict(self.sources.most_common()),
        )


def delete_dataset(session: Session, dataset: DatasetRow) -> None:
    item_ids = select(ItemRow.id).where(ItemRow.dataset_id == dataset.id)
    session.execute(delete(AnnotationRow).where(AnnotationRow.item_id.in_(item_ids)))
    session.execute(delete(ItemRow).where(ItemRow.dataset_id == dataset.id))
    label_set_id = dataset.label_set_id
    session.delete(dataset)
    session.flush()
    session.execute(delete(LabelRow).where(LabelRow.label_set_id == label_set_id))
    session.execute(delete(LabelSetRow).where(LabelSetRow.id == label_set_id))
