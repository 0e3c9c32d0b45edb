"""REST API: datasets, pages of their items with labels, and item images (managers only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from truthloop.core.serialize import value_to_json
from truthloop.core.types import Split
from truthloop.storage import datasets as store
from truthloop.storage import gallery
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


@router.get("/datasets/{name}/items")
def items(
    session: SessionDep,
    _: RequireManager,
    name: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 48,
    split: Split | None = None,
) -> ItemPage:
    row = store.get_dataset(session, name)
    page, total = gallery.item_page(session, row.id, offset=offset, limit=limit, split=split)
    return ItemPage(total=total, offset=offset, items=[item_public(i) for i in page])


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
