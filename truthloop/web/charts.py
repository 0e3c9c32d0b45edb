"""Charts of an automated-labeling job's iterations as inline SVG, drawn on the server: no
script, no stylesheet rule and nothing fetched, so they pass the portal's content security
policy and show with scripts off. Every text in them is a number or a fixed word, escaped
anyway.

Their shapes carry classes of their own (`chart-bar`, `axis`), never one the portal's
stylesheet styles: a page rule such as `.bar { height: 8px }` outranks an SVG attribute and
once drew every bar as a strip at its value instead of a bar rising from the axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from truthloop.labeling.autolabel import Iteration

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 36
HUMAN, MACHINE, THRESHOLD, ACCURACY, BOUND, COST = (
    "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#e45756",
)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: tuple[float | None, ...]


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + span * (i + 0.5) / max(n, 1)


def _y(value: float, low: float, top: float) -> float:
    """Where `value` lies on an axis from `low` (the plot's bottom) to `top`."""
    span = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - span * ((value - low) / (top - low) if top > low else 0.0)


def _frame(
    title: str,
    low: float,
    top: float,
    numbers: Sequence[int],
    percent: bool,
    axis_label: str = "iteration",
) -> list[str]:
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}"'
        f' height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = low + (top - low) * step / 4
        y = _y(value, low, top)
        label = f"{value:.0%}" if percent else f"{value:.3g}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            ' stroke="#ddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11"'
            f' fill="#555">{escape(label)}</text>'
        )
    axis = _y(0.0, low, top)
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{axis:.1f}" y2="{axis:.1f}"'
        ' stroke="#888" stroke-width="1"/>'
    )
    for i, number in enumerate(numbers):
        parts.append(
            f'<text x="{_x(i, len(numbers)):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle"'
            f' font-size="11" fill="#555">{number}</text>'
        )
    parts.append(
        f'<text x="{(WIDTH + LEFT) / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle" font-size="11"'
        f' fill="#555">{escape(axis_label)}</text>'
    )
    return parts


def _legend(series: Sequence[Series]) -> str:
    items = []
    for i, s in enumerate(series):
        x = LEFT + 130 * i
        items.append(
            f'<rect x="{x}" y="2" width="10" height="10" fill="{s.colour}"/>'
            f'<text x="{x + 14}" y="11" font-size="11" fill="#333">{escape(s.name)}</text>'
        )
    return "".join(items)


def bar_chart(title: str, numbers: Sequence[int], series: Sequence[Series]) -> Markup:
    """Bars side by side per iteration, one colour per series, each rising from the axis (0)
    to its value, or falling below it for a negative one."""
    drawn = [v for s in series for v in s.values if v is not None]
    low, top = min([0.0, *drawn]), max([0.0, *drawn])
    if top == low:
        top = 1.0
    parts = _frame(title, low, top, numbers, percent=False)
    axis = _y(0.0, low, top)
    slot = (WIDTH - LEFT - RIGHT) / max(len(numbers), 1)
    width = slot * 0.8 / max(len(series), 1)
    for k, s in enumerate(series):
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x = _x(i, len(numbers)) - slot * 0.4 + k * width
            end = _y(value, low, top)
            parts.append(
                f'<rect class="chart-bar" data-series="{escape(s.name)}" data-value="{value:g}"'
                f' x="{x:.1f}" y="{min(axis, end):.1f}" width="{width:.1f}"'
                f' height="{abs(axis - end):.1f}" fill="{s.colour}"/>'
            )
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str,
    numbers: Sequence[int],
    series: Sequence[Series],
    *,
    target: float | None = None,
    axis_label: str = "iteration",
) -> Markup:
    """Lines over iterations (or what `axis_label` names) on a 0-100 % axis; a dashed line at
    `target`."""
    parts = _frame(title, 0.0, 1.0, numbers, percent=True, axis_label=axis_label)
    if target is not None:
        y = _y(target, 0.0, 1.0)
        parts.append(
            f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            ' stroke="#333" stroke-dasharray="4 3" stroke-width="1"/>'
        )
    for s in series:
        points = [
            (_x(i, len(numbers)), _y(v, 0.0, 1.0)) for i, v in enumerate(s.values) if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2"/>'
            )
        parts += [
            f'<circle class="point" data-series="{escape(s.name)}" cx="{x:.1f}" cy="{y:.1f}"'
            f' r="3" fill="{s.colour}"/>'
            for x, y in points
        ]
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def iteration_charts(iterations: Sequence[Iteration], target: float) -> dict[str, Markup]:
    """The job page's three charts: labels per iteration, threshold and validation accuracy
    with its bound against the target, and cost."""
    numbers = [i.number for i in iterations]

    def values(name: str) -> tuple[float | None, ...]:
        return tuple(getattr(i, name) for i in iterations)

    return {
        "labels": bar_chart(
            "Labels per iteration",
            numbers,
            [
                Series("human", HUMAN, values("human_labeled")),
                Series("machine", MACHINE, values("machine_labeled")),
            ],
        ),
        "accuracy": line_chart(
            "Threshold and validation accuracy",
            numbers,
            [
                Series("threshold", THRESHOLD, values("threshold")),
                Series("val. accuracy", ACCURACY, values("validation_accuracy")),
                Series("accuracy bound", BOUND, values("accuracy_bound")),
            ],
            target=target,
        ),
        "cost": bar_chart("Cost per iteration", numbers, [Series("cost", COST, values("cost"))]),
    }
