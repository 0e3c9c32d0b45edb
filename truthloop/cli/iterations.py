"""The per-iteration table of an automated-labeling job, as `job status --iterations` and
`bench loop` print it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from truthloop.labeling.autolabel import Iteration


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def iteration_table(iterations: Sequence[Iteration], title: str = "iterations") -> Table:
    table = Table(
        "#", "human", "machine", "validation", "threshold", "val. accuracy", "bound",
        "mean IoU", "human s", "compute s", "cost", "elapsed s", "left", title=title,
    )
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
            _number(i.compute_seconds, 1),
            _number(i.cost, 2),
            _number(i.elapsed_s, 1),
            str(i.remaining),
        )
    return table
