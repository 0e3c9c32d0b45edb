"""A flow's completed loops as training data: a Ground Truth augmented manifest, as the A2I
notebook's `convert_a2i_to_augmented_manifest` makes one (FORMATS.md §4.3).

The loops' output documents are read by the same reader as `dataset import --format a2i`
(formats/a2i.py), so an export and an import of the written output.json files give the same
lines: attribute `a2i-retraining` by default, `job-name` `a2i/<loop>`, a person's label with
confidence 1 per box, created at the answer's submission; "None of the Above" and empty
answers are skipped and counted. Class ids follow the model's labels where the loops carry
them (a detect-started loop's `labels`), so the manifest's class map matches the model that
`model train --from` continues.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from truthloop import formats
from truthloop.core.types import LabelSet
from truthloop.formats.a2i import DEFAULT_ATTRIBUTE, A2ICounts, A2IReader, output_key
from truthloop.review.flows import get_flow
from truthloop.review.loops import LoopStatus, loop_output
from truthloop.storage.project import Project
from truthloop.storage.tables import HumanLoopRow


@dataclass(frozen=True)
class ReviewExport:
    """What an export wrote: manifest lines, from how many completed loops, and what the
    reader skipped (None of the Above, empty answers, superseded answers)."""

    lines: int
    loops: int
    counts: A2ICounts


def export_flow(
    project: Project,
    flow: str,
    dest: Path | str,
    *,
    attribute: str = DEFAULT_ATTRIBUTE,
    element: str | None = None,
) -> ReviewExport:
    """Write the flow's completed loops to `dest` as a Ground Truth augmented manifest."""
    documents, model_labels = _completed_documents(project, flow)
    with tempfile.TemporaryDirectory(prefix=".review-export-", dir=project.home) as folder:
        for created, name, document in documents:
            path = Path(folder, output_key(flow, created, name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(document))
        reader = A2IReader(
            folder, attribute=attribute, element=element, allowed_roots=project.allowed_roots
        )
        records = list(reader)
    label_set = LabelSet.from_names(model_labels)
    for name in reader.label_set.ids:
        label_set = label_set.with_label(name)
    written = formats.write(
        "groundtruth", records, Path(dest), label_set=label_set, label_attribute=attribute
    )
    return ReviewExport(written, len(documents), reader.counts)


Document = tuple[datetime, str, dict[str, Any]]


def _completed_documents(project: Project, flow: str) -> tuple[list[Document], list[str]]:
    with project.session() as session:
        flow_row = get_flow(session, flow)
        loops = session.scalars(
            select(HumanLoopRow)
            .where(
                HumanLoopRow.flow_id == flow_row.id,
                HumanLoopRow.status == LoopStatus.COMPLETED,
            )
            .order_by(HumanLoopRow.id)
        ).all()
        documents = [
            (loop.created_at, loop.name, loop_output(session, loop, flow_row)) for loop in loops
        ]
    labels: dict[str, None] = {}
    for _, _, document in documents:
        given = document["inputContent"].get("labels")
        if isinstance(given, list):
            labels.update((label, None) for label in given if isinstance(label, str))
    return documents, list(labels)
