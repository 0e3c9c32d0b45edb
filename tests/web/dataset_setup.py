"""A dataset to browse, filter and split: ten images, five with a `cat` box drawn by worker w1
and five with a `dog` box proposed by a model, each box with its own confidence."""

from __future__ import annotations

from PIL import Image

from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    ImageRecord,
    ImageSize,
    LabelSet,
    Source,
)
from truthloop.storage import datasets as store
from truthloop.storage.project import Project

NAME = "zoo"
LABELS = ("cat", "dog", "bird")
SIZE = ImageSize(200, 150)
CAT_CONFIDENCES = (0.5, 0.6, 0.7, 0.8, 0.9)
DOG_CONFIDENCES = (0.2, 0.3, 0.4, 0.5, 0.6)
WORKER = "w1"


def _annotation(n: int) -> Annotation:
    if n < len(CAT_CONFIDENCES):
        box = Box("cat", 10 + 5 * n, 20, 50, 40, CAT_CONFIDENCES[n])
        return Annotation(Boxes((box,)), source=Source.HUMAN, attribute="animals", worker=WORKER)
    box = Box("dog", 30, 30, 60, 50, DOG_CONFIDENCES[n - len(CAT_CONFIDENCES)])
    return Annotation(Boxes((box,)), source=Source.MODEL, attribute="animals")


def make_zoo(project: Project) -> list[int]:
    """Stores the dataset (its images under the project's home); returns the item ids."""
    folder = project.home / NAME
    folder.mkdir()
    records = []
    for n in range(len(CAT_CONFIDENCES) + len(DOG_CONFIDENCES)):
        path = folder / f"{NAME}-{n}.png"
        Image.new("RGB", (SIZE.width, SIZE.height), (20 * n, 120, 90)).save(path)
        records.append(ImageRecord(str(path), SIZE, (_annotation(n),)))
    with project.session() as session:
        dataset = store.create_dataset(session, NAME, LabelSet.from_names(LABELS))
        return store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
