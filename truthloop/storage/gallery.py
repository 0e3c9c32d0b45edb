"""Pages of a dataset's items with their annotations, for browsing (the portal's thumbnail grid),
filtered by split and by what their annotations say: a label, who made it (a source, a worker)
and how confidently.

An item matches when one of its annotations meets every annotation condition at once (a box of
`cat` by worker `w1` at confidence 0.9, not a `cat` by a model and something else by `w1`).
Split, source and worker are conditions in SQL; a label and a confidence live inside the
annotation's JSON value, so those are read and judged here, streaming the dataset's
annotations (as `summarize` does) and keeping only the matching item ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from truthloop.core.serialize import value_from_json
from truthloop.core.types import (
    Annotation,
    Boxes,
    Classification,
    MultiLabel,
    Source,
    Split,
    Value,
    Verification,
)
from truthloop.errors import InputError, NotFound
from truthloop.storage.datasets import annotation_from_row
from truthloop.storage.tables import AnnotationRow, ItemRow


@dataclass(frozen=True, slots=True)
class GalleryItem:
    item_id: int
    uri: str
    width: int | None
    height: int | None
    split: str
    annotations: tuple[Annotation, ...]


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which items a page shows; None: any. Confidences are in [0, 1], both ends included."""

    split: Split | None = None
    label: str | None = None
    source: Source | None = None
    worker: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_confidence", "max_confidence"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be from 0 to 1, not {value}")
        low, high = self.min_confidence, self.max_confidence
        if low is not None and high is not None and low > high:
            raise InputError(f"min_confidence {low} is above max_confidence {high}")

    @property
    def on_annotations(self) -> bool:
        return any(
            v is not None
            for v in (self.label, self.source, self.worker, self.min_confidence,
                      self.max_confidence)
        )

    @property
    def in_values(self) -> bool:
        """Whether a condition looks inside annotation values (judged here, not in SQL)."""
        return any(v is not None for v in (self.label, self.min_confidence, self.max_confidence))

    def accepts(self, value: Value, confidence: float | None) -> bool:
        """Whether one labeled part of `value` (a class, a box) meets the label and confidence
        conditions; a part without a confidence of its own has the annotation's."""
        for label, own in _parts(value):
            found = own if own is not None else confidence
            if self.label is not None and label != self.label:
                continue
            if self.min_confidence is not None and (found is None or found < self.min_confidence):
                continue
            if self.max_confidence is not None and (found is None or found > self.max_confidence):
                continue
            return True
        return False


def _parts(value: Value) -> Iterator[tuple[str | None, float | None]]:
    """(label, confidence) of each labeled part of a value; a verdict has no label."""
    match value:
        case Classification(label=label, confidence=confidence):
            yield label, confidence
        case MultiLabel(labels=labels, confidences=confidences):
            yield from zip(labels, confidences or (None,) * len(labels), strict=True)
        case Boxes(boxes=boxes):
            for box in boxes:
                yield box.label, box.confidence
        case Verification(confidence=confidence):
            yield None, confidence


def _item_conditions(dataset_id: int, where: ItemFilter) -> list[ColumnElement[bool]]:
    conditions = [ItemRow.dataset_id == dataset_id]
    if where.split is not None:
        conditions.append(ItemRow.split == where.split.value)
    return conditions


def _annotation_conditions(where: ItemFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.source is not None:
        conditions.append(AnnotationRow.source == where.source.value)
    if where.worker is not None:
        conditions.append(AnnotationRow.worker == where.worker)
    return conditions


def _matching_ids(session: Session, dataset_id: int, where: ItemFilter) -> list[int]:
    """The ids, in order, of the items one of whose annotations `where` accepts."""
    rows = session.execute(
        select(AnnotationRow.item_id, AnnotationRow.kind, AnnotationRow.value,
               AnnotationRow.confidence)
        .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
        .where(*_item_conditions(dataset_id, where), *_annotation_conditions(where))
        .order_by(AnnotationRow.item_id)
        .execution_options(yield_per=5000)
    )
    found: list[int] = []
    for item_id, kind, value, confidence in rows:
        if found and found[-1] == item_id:
            continue
        if where.accepts(value_from_json(kind, value), confidence):
            found.append(item_id)
    return found


def item_page(
    session: Session,
    dataset_id: int,
    *,
    offset: int = 0,
    limit: int = 48,
    where: ItemFilter | None = None,
) -> tuple[list[GalleryItem], int]:
    """`limit` items from `offset` in id order, with their annotations, and how many `where`
    accepts (every item without it)."""
    where = where or ItemFilter()
    if where.in_values:
        ids = _matching_ids(session, dataset_id, where)
        total = len(ids)
        page_ids: Sequence[int] = ids[offset : offset + limit]
        items = session.scalars(
            select(ItemRow).where(ItemRow.id.in_(page_ids)).order_by(ItemRow.id)
        ).all() if page_ids else []
    else:
        conditions = _item_conditions(dataset_id, where)
        if where.on_annotations:
            conditions.append(
                ItemRow.id.in_(
                    select(AnnotationRow.item_id).where(*_annotation_conditions(where))
                )
            )
        total = int(session.scalar(select(func.count(ItemRow.id)).where(*conditions)) or 0)
        items = session.scalars(
            select(ItemRow).where(*conditions).order_by(ItemRow.id).offset(offset).limit(limit)
        ).all()
    return _with_annotations(session, items), total


def _with_annotations(session: Session, items: Sequence[ItemRow]) -> list[GalleryItem]:
    annotations: dict[int, list[Annotation]] = defaultdict(list)
    if items:
        rows = session.scalars(
            select(AnnotationRow)
            .where(AnnotationRow.item_id.in_([i.id for i in items]))
            .order_by(AnnotationRow.id)
        )
        for row in rows:
            annotations[row.item_id].append(annotation_from_row(row))
    return [
        GalleryItem(i.id, i.uri, i.width, i.height, i.split, tuple(annotations[i.id]))
        for i in items
    ]


def get_item(session: Session, item_id: int) -> ItemRow:
    item = session.get(ItemRow, item_id)
    if item is None:
        raise NotFound(f"no item with id {item_id}")
    return item
