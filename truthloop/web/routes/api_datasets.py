"""REST API: datasets, pages of their items with labels (filtered by split, label, who made it
and confidence), their splits set by ratio or by hand, and item images (managers only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from truthloop.core.serialize import value_to_json
from truthloop.core.types import Source, Split
from truthloop.storage import datasets as store
from truthloop.storage import gallery, splits
from truthloop.web.dataset_schemas import SplitChange, SplitCounts
from truthloop.web.deps import ProjectDep, RequireManager, SessionDep
from truthloop.web.images import image_response
from truthloop.web.schemas import (
    AnnotationPublic,
    DatasetDetail,
    DatasetPublic,
    ItemPage,
    ItemPublic,
    LabelCountsPublic,
)

router = APIRouter(prefix="/api", tags=["datasets"])


@router.get("/datasets")
def list_datasets(session: SessionDep, _: RequireManager) -> list[DatasetPublic]:
    return [
        DatasetPublic(name=d.name, description=d.description, items=n, created_at=d.created_at)
        for d, n in store.list_datasets(session)
    ]


@router.get("/datasets/{name}")
def dataset(session: SessionDep, _: RequireManager, name: str) -> DatasetDetail:
    row = store.get_dataset(session, name)
    summary = store.summarize(session, row)
    return DatasetDetail(
        name=row.name,
        description=row.description,
        items=summary.items,
        created_at=row.created_at,
        labels=list(summary.labels),
        attributes=[LabelCountsPublic(**asdict(counts)) for counts in summary.attributes],
        items_per_split=summary.items_per_split,
        sources=summary.sources,
    )


def item_public(item: gallery.GalleryItem) -> ItemPublic:
    return ItemPublic(
        id=item.item_id,
        uri=item.uri,
        width=item.width,
        height=item.height,
        split=item.split,
        image_url=f"/api/items/{item.item_id}/image",
        thumbnail_url=f"/api/items/{item.item_id}/image?size=320",
        annotations=[
            AnnotationPublic(
                kind=a.kind.value,
                attribute=a.attribute,
                source=a.source.value,
                value=value_to_json(a.value),
                worker=a.worker,
                job_name=a.job_name,
            )
            for a in item.annotations
        ],
    )


Confidence = Annotated[float | None, Query(ge=0, le=1)]
Text = Annotated[str | None, Query(min_length=1, max_length=256)]


def item_filter(
    split: Split | None = None,
    label: Text = None,
    source: Source | None = None,
    worker: Text = None,
    min_confidence: Confidence = None,
    max_confidence: Confidence = None,
) -> gallery.ItemFilter:
    """The items a page asks for (gallery.ItemFilter says what each condition means); a
    minimum above the maximum is refused there."""
    return gallery.ItemFilter(
        split=split, label=label, source=source, worker=worker,
        min_confidence=min_confidence, max_confidence=max_confidence,
    )


@router.get("/datasets/{name}/items")
def items(
    session: SessionDep,
    _: RequireManager,
    name: str,
    where: Annotated[gallery.ItemFilter, Depends(item_filter)],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 48,
) -> ItemPage:
    row = store.get_dataset(session, name)
    page, total = gallery.item_page(session, row.id, offset=offset, limit=limit, where=where)
    return ItemPage(total=total, offset=offset, items=[item_public(i) for i in page])


@router.post("/datasets/{name}/split")
def set_split(project: ProjectDep, _: RequireManager, name: str, body: SplitChange) -> SplitCounts:
    """Sets the items' splits: every item by `train_share` (seeded, stratified by label), or
    the items `items` into `split`."""
    # The write lock first (SQLite): two changes at once are taken one after the other.
    with project.db.session(immediate=True) as session:
        row = store.get_dataset(session, name)
        if body.train_share is not None:
            counts = splits.split_by_ratio(session, row, body.train_share, seed=body.seed)
        else:
            assert body.items is not None and body.split is not None  # SplitChange checked
            counts = splits.assign_split(session, row, body.items, body.split)
    return SplitCounts(items_per_split=counts)


@router.get("/items/{item_id}/image", response_class=Response)
def item_image(
    project: ProjectDep,
    session: SessionDep,
    _: RequireManager,
    item_id: int,
    size: Annotated[int | None, Query(ge=16, le=2048)] = None,
) -> Response:
    uri = gallery.get_item(session, item_id).uri
    return image_response(project, uri, name=f"item {item_id}", max_side=size)
