"""Export a dataset to any writable format, streaming from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from truthloop import formats
from truthloop.core.types import ImageRecord, Split
from truthloop.datasets.bulk import old_objects_frozen
from truthloop.storage import datasets as store
from truthloop.storage.project import Project


@dataclass(frozen=True)
class ExportReport:
    dataset: str
    format: str
    dest: str
    exported: int

    def to_json(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "format": self.format,
            "dest": self.dest,
            "exported": self.exported,
        }


def export_dataset(
    project: Project,
    name: str,
    dest: Path | str,
    *,
    fmt: str,
    label_attribute: str | None = None,
    split: Split | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    dest = Path(dest).expanduser().resolve()
    with project.session() as session, old_objects_frozen():
        dataset = store.get_dataset(session, name)
        label_set = store.label_set_of(session, dataset)

        def records() -> Iterator[ImageRecord]:
            stored = store.iter_records(session, dataset.id, split=split)
            for n, (_, record) in enumerate(stored, 1):
                if progress and n % 1000 == 0:
                    progress(n)
                yield record

        count = formats.write(
            fmt,
            records(),
            dest,
            label_set=label_set,
            label_attribute=label_attribute,
            job_name=None,
        )
    if progress:
        progress(count)
    return ExportReport(dataset=name, format=fmt, dest=str(dest), exported=count)
