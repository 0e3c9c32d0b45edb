"""The per-iteration table of an automated-labeling job, as `job status --iterations` and
`bench loop` print it."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table

from truthloop.labeling.autolabel import Iteration

# Two-line headers, one space between columns and no outer rules keep every column whole in
# an 80-column terminal; compute time is in the cost (and in the JSON).
HEADERS = ("#", "people", "model", "valid.\nitems", "thresh.", "valid.\nacc.", "bound",
           "mean\nIoU", "people\ns", "cost", "elapsed\ns", "left")


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def iteration_table(iterations: Sequence[Iteration], title: str = "iterations") -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=0, show_edge=False)
    for header in HEADERS:
        table.add_column(header, justify="right", no_wrap=True)
    for i in iterations:
        table.add_row(
            str(i.number),
            str(i.human_labeled),
            str(i.machine_labeled),
            str(i.validation_items),
            _number(i.threshold),
            _number(i.validation_accuracy),
            _number(i.accuracy_bound),
            _number(i.mean_iou),
            _number(i.human_seconds, 0),
            _number(i.cost, 2),
            _number(i.elapsed_s, 1),
            str(i.remaining),
        )
    return table
