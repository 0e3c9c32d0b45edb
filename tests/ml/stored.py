"""Tiny shape images stored as a project's datasets, for the registry, CLI and REST tests."""

from __future__ import annotations

from dataclasses import replace

from tests.ml.shapes import LABELS, Shapes
from truthloop.core.types import ImageRecord, LabelSet, Split
from truthloop.storage import datasets as store
from truthloop.storage.project import Project


def store_shapes(
    project: Project, name: str, data: Shapes, *, split: Split | None = None
) -> list[ImageRecord]:
    """Write the images under the project home and store their records as dataset `name`."""
    folder = project.home / "images" / name
    folder.mkdir(parents=True)
    records = []
    for i, record in enumerate(data.records):
        path = folder / f"{i}.png"
        data.images[record.uri].save(path)
        records.append(replace(record, uri=str(path), split=split or record.split))
    with project.session() as session:
        dataset = store.create_dataset(session, name, LabelSet.from_names(LABELS))
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
    return records
