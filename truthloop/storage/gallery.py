"""Pages of a dataset's items with their annotations, for browsing (the portal's thumbnail grid)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from truthloop.core.types import Annotation, Split
from truthloop.errors import NotFound
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


def item_page(
    session: Session,
    dataset_id: int,
    *,
    offset: int = 0,
    limit: int = 48,
    split: Split | None = None,
) -> tuple[list[GalleryItem], int]:
    """`limit` items from `offset` in id order, with their annotations, and how many there are."""
    where = [ItemRow.dataset_id == dataset_id]
    if split is not None:
        where.append(ItemRow.split == split.value)
    total = int(session.scalar(select(func.count(ItemRow.id)).where(*where)) or 0)
    items = session.scalars(
        select(ItemRow).where(*where).order_by(ItemRow.id).offset(offset).limit(limit)
    ).all()
    annotations: dict[int, list[Annotation]] = defaultdict(list)
    if items:
        rows = session.scalars(
            select(AnnotationRow)
            .where(AnnotationRow.item_id.in_([i.id for i in items]))
            .order_by(AnnotationRow.id)
        )
        for row in rows:
            annotations[row.item_id].append(annotation_from_row(row))
    page = [
        GalleryItem(i.id, i.uri, i.width, i.height, i.split, tuple(annotations[i.id]))
        for i in items
    ]
    return page, total


def get_item(session: Session, item_id: int) -> ItemRow:
    item = session.get(ItemRow, item_id)
    if item is None:
        raise NotFound(f"no item with id {item_id}")
    return item
