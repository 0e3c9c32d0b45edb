"""Reading the portal's Chart.js charts in a browser: what each chart holds
(`Chart.getChart(canvas).data`) and where its bars are drawn, to measure them against their
values."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page

DRAWN = """() => window.Chart && [...document.querySelectorAll('canvas[data-chart]')]
    .every(canvas => Chart.getChart(canvas))"""

DATA = """canvas => {
  const chart = Chart.getChart(canvas);
  return {type: chart.config.type, labels: chart.data.labels,
          datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data}))};
}"""

# Each bar's far end and base in pixels along the value axis, and where that axis puts the
# bar's value and 0: a bar drawn right starts at 0 and ends at its value.
BARS = """canvas => {
  const chart = Chart.getChart(canvas);
  const horizontal = chart.options.indexAxis === 'y';
  const axis = horizontal ? chart.scales.x : chart.scales.y;
  return chart.data.datasets.map((d, i) => chart.getDatasetMeta(i).data.map((bar, j) => ({
    series: d.label, value: d.data[j],
    end: horizontal ? bar.x : bar.y, base: bar.base,
    valueAt: axis.getPixelForValue(d.data[j]), zeroAt: axis.getPixelForValue(0),
  }))).flat();
}"""


def wait_for_charts(page: Page) -> None:
    page.wait_for_function(DRAWN)


def chart_data(canvas: Locator) -> dict[str, Any]:
    """The chart's type, categories and datasets ({label, data}) as Chart.js holds them."""
    result: dict[str, Any] = canvas.evaluate(DATA)
    return result


def series(canvas: Locator) -> dict[str, list[float | None]]:
    return {d["label"]: d["data"] for d in chart_data(canvas)["datasets"]}


def assert_bars_match_values(canvas: Locator) -> int:
    """Every bar runs from the axis's 0 to its value (within a pixel), and longer bars are
    longer in proportion; returns how many bars were measured."""
    bars: list[dict[str, Any]] = canvas.evaluate(BARS)
    assert bars, "the chart draws no bars"
    tallest = max(bars, key=lambda b: abs(b["value"] or 0))
    scale = abs(tallest["end"] - tallest["base"]) / abs(tallest["value"] or 1)
    assert scale > 0.3, (tallest, scale)  # the tallest bar fills much of the plot
    for bar in bars:
        assert abs(bar["base"] - bar["zeroAt"]) <= 1, bar
        assert abs(bar["end"] - bar["valueAt"]) <= 1, bar
        assert abs(abs(bar["end"] - bar["base"]) - abs(bar["value"]) * scale) <= 1, (bar, scale)
    return len(bars)
