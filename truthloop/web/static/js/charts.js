// Draws every chart of the page with the vendored Chart.js (window.Chart, loaded by the classic
// script before this module): each <canvas data-chart> carries its chart as JSON, written by
// web/charts.py, which is the one definition of what a chart shows.

const DASH = [6, 4];

function percentTick(value) {
  return `${Math.round(Number(value) * 100)} %`;
}

function dataset(series, kind) {
  return {
    label: series.name,
    data: series.values,
    backgroundColor: series.colour,
    borderColor: series.colour,
    borderWidth: kind === "line" ? 2 : 0,
    borderDash: series.dashed ? DASH : [],
    pointRadius: series.dashed ? 0 : 3,
    spanGaps: true,
  };
}

function valueAxis(spec) {
  const axis = {
    beginAtZero: true,
    title: { display: Boolean(spec.yTitle), text: spec.yTitle },
  };
  if (spec.percent) Object.assign(axis, { min: 0, max: 1, ticks: { callback: percentTick } });
  else if (spec.counts) axis.ticks = { precision: 0 };
  return axis;
}

export function config(spec) {
  const across = { title: { display: true, text: spec.xTitle } };
  const value = valueAxis(spec);
  const format = spec.percent ? percentTick : (v) => String(v);
  return {
    type: spec.kind,
    data: { labels: spec.categories, datasets: spec.series.map((s) => dataset(s, spec.kind)) },
    options: {
      animation: false,  // drawn at once: a chart to read, and to measure in tests
      maintainAspectRatio: false,
      indexAxis: spec.horizontal ? "y" : "x",
      scales: spec.horizontal ? { x: value, y: across } : { x: across, y: value },
      plugins: {
        title: { display: false },  // the figure's caption says it
        legend: { display: spec.series.length > 1 },
        tooltip: {
          callbacks: { label: (item) => `${item.dataset.label}: ${format(item.raw)}` },
        },
      },
    },
  };
}

export function drawCharts(root = document) {
  for (const canvas of root.querySelectorAll("canvas[data-chart]")) {
    if (window.Chart.getChart(canvas)) continue;
    new window.Chart(canvas, config(JSON.parse(canvas.dataset.chart)));
  }
}

if (window.Chart) drawCharts();
else console.error("Chart.js did not load: /static/vendor/chartjs/chart.umd.js");
