"""The portal's charts, defined once here as data: a page carries each chart's JSON on its canvas
and static/js/charts.js draws it with the vendored Chart.js (static/vendor/chartjs, served from
the package: nothing is fetched from elsewhere, so it passes the portal's content security
policy and works offline). The template macro `_chart.html` also writes the same numbers as a
table, so a page read without scripts (a screen reader, a test client) still has them.

Every text here reaches the page as JSON inside an attribute, escaped by Jinja's `tojson`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from truthloop.labeling.autolabel import Iteration

HUMAN, MACHINE, THRESHOLD, ACCURACY, BOUND, COST, TARGET = (
    "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#e45756", "#333333",
)
ATTRIBUTE_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#e45756")

ChartKind = Literal["bar", "line"]


@dataclass(frozen=True, slots=True)
class Series:
    """One dataset of a chart: a value per category (None: no value there). `colour` is one
    colour, or one per category (a bar chart whose bars differ in colour)."""

    name: str
    colour: str | tuple[str, ...]
    values: tuple[float | None, ...]
    dashed: bool = False  # a reference line, such as a target or a gate


@dataclass(frozen=True, slots=True)
class Chart:
    kind: ChartKind
    title: str
    x_title: str
    y_title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    percent: bool = False  # values in [0, 1], drawn on a 0-100 % axis
    horizontal: bool = False
    counts: bool = False  # whole numbers: the value axis ticks only at whole numbers

    def __post_init__(self) -> None:
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError(
                    f"chart {self.title!r}: series {s.name!r} has {len(s.values)} values for"
                    f" {len(self.categories)} categories"
                )

    def to_json(self) -> dict[str, Any]:
        """What charts.js reads from the canvas's `data-chart` attribute."""
        return {
            "kind": self.kind,
            "title": self.title,
            "xTitle": self.x_title,
            "yTitle": self.y_title,
            "categories": list(self.categories),
            "series": [
                {"name": s.name,
                 "colour": s.colour if isinstance(s.colour, str) else list(s.colour),
                 "values": list(s.values), "dashed": s.dashed}
                for s in self.series
            ],
            "percent": self.percent,
            "horizontal": self.horizontal,
            "counts": self.counts,
        }


def iteration_charts(iterations: Sequence[Iteration], target: float) -> dict[str, Chart]:
    """The job page's three charts: labels per iteration, threshold and validation accuracy
    with its bound against the target, and cost."""
    numbers = tuple(str(i.number) for i in iterations)

    def values(name: str) -> tuple[float | None, ...]:
        return tuple(getattr(i, name) for i in iterations)

    return {
        "labels": Chart(
            "bar", "Labels per iteration", "iteration", "labels", numbers,
            (Series("human", HUMAN, values("human_labeled")),
             Series("machine", MACHINE, values("machine_labeled"))),
            counts=True,
        ),
        "accuracy": Chart(
            "line", "Threshold and validation accuracy", "iteration", "share", numbers,
            (Series("threshold", THRESHOLD, values("threshold")),
             Series("val. accuracy", ACCURACY, values("validation_accuracy")),
             Series("accuracy bound", BOUND, values("accuracy_bound")),
             Series("target", TARGET, (target,) * len(numbers), dashed=True)),
            percent=True,
        ),
        "cost": Chart(
            "bar", "Cost per iteration", "iteration", "cost", numbers,
            (Series("cost", COST, values("cost")),),
        ),
    }


def counts_chart(title: str, counts: Mapping[str, int], colours: Mapping[str, str]) -> Chart:
    """One horizontal bar per count, in `colours`' order, each its own colour."""
    names = tuple(colours)
    return Chart(
        "bar", title, "count", "", names,
        (Series("count", tuple(colours[n] for n in names),
                tuple(float(counts.get(n, 0)) for n in names)),),
        horizontal=True, counts=True,
    )


def label_chart(
    per_attribute: Mapping[str | None, Mapping[str, int]], labels: Sequence[str]
) -> Chart:
    """Images per label, one series per label attribute (an image labeled under two attributes
    counts in each), labels in the label set's order then any other label an image has."""
    names = list(labels) + sorted(
        {n for counts in per_attribute.values() for n in counts} - set(labels)
    )
    series = tuple(
        Series(attribute or "no attribute", ATTRIBUTE_COLOURS[i % len(ATTRIBUTE_COLOURS)],
               tuple(float(counts.get(n, 0)) for n in names))
        for i, (attribute, counts) in enumerate(per_attribute.items())
    )
    return Chart("bar", "Images per label", "label", "images", tuple(names), series, counts=True)
