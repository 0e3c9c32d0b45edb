"""The job page of an automated-labeling job charts its iterations (inline SVG, no script)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import FloatRect, Page, expect

from tests.labeling.colours import FAKE, colour_dataset, colour_images
from tests.web.portal import Portal
from tests.web.test_browser import sign_in
from truthloop.labeling import JobSpec, TaskType
from truthloop.labeling.autolabel import AutoLabelSpec, create_autolabel_job, run_autolabel
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage.tables import AutoLabelIterationRow, AutoLabelJobRow

# Three iterations as a job records them, with a zero in each chart: the model labels nothing
# after the first batch, people label nothing in the last iteration, which costs nothing.
HUMAN, MACHINE, COST = (130, 70, 0), (0, 45, 55), (13.0, 7.25, 0.0)


def _job(portal: Portal, tmp_path: Path) -> int:
    truth = colour_images(tmp_path / "colours", 200, seed=1)
    colour_dataset(portal.project, "colours", truth)
    crowd = SimulatedWorkforce(
        portal.project, truth, [WorkerProfile("sim-1", class_error_rate=0.0)], team="sim"
    )
    spec = JobSpec(name="auto", dataset="colours", task_type=TaskType.CLASSIFICATION, team="sim",
                   price_per_task=0.1)
    terms = AutoLabelSpec(batch_size=70, validation_size=60, **FAKE)  # type: ignore[arg-type]
    job = create_autolabel_job(portal.project, spec, terms)
    run_autolabel(portal.project, job, crowd.work)
    return job


def _recorded_job(portal: Portal) -> int:
    """A job with automated labeling whose iterations are written as `advance` records them,
    without training anything: the figures are the test's."""
    job = portal.job(name="auto", task_type=TaskType.CLASSIFICATION)
    with portal.project.session() as session:
        session.add(AutoLabelJobRow(
            job_id=job, task="classification", target_accuracy=0.95, confidence=0.95,
            batch_size=70, validation_size=60, validation_max=None, budget=None,
            compute_price_per_hour=0.0, sampling="random", model_project="auto", backend=None,
            backend_params={}, initial_model=None, latest_model=None, train_passes=1, seed=0,
            batch=len(COST),
        ))
        for number, (human, machine, cost) in enumerate(zip(HUMAN, MACHINE, COST, strict=True), 1):
            session.add(AutoLabelIterationRow(
                job_id=job, number=number, human_labeled=human, machine_labeled=machine,
                validation_items=60, threshold=0.9, validation_accuracy=0.97,
                accuracy_bound=0.95, mean_iou=None, model_version=None, human_seconds=0.0,
                compute_seconds=0.0, cost=cost, elapsed_s=1.0, remaining=0,
            ))
    return job


def _middle(box: FloatRect | None) -> float:
    assert box is not None
    return box["y"] + box["height"] / 2


def test_every_bar_rises_from_the_axis_to_its_value(portal: Portal, page: Page) -> None:
    """Measured as drawn: the portal's stylesheet once gave the bars a fixed height of 8 px,
    so each hung as a strip at its value and a 0 hung below the axis."""
    job = _recorded_job(portal)
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    charts = page.locator("#iteration-charts svg")
    expect(charts).to_have_count(3)
    page.locator("#iteration-charts").screenshot(path="/tmp/truthloop-iteration-charts.png")
    for chart, series in ((charts.nth(0), {"human": HUMAN, "machine": MACHINE}),
                          (charts.nth(2), {"cost": COST})):
        axis = _middle(chart.locator("line.axis").bounding_box())
        top = max(v for values in series.values() for v in values)
        # Pixels per unit, from the tallest bar; every other bar must keep the proportion.
        tallest = chart.locator(f"rect.chart-bar[data-value='{top:g}']").first.bounding_box()
        assert tallest is not None
        scale = tallest["height"] / top
        assert scale > 0.5  # the tallest bar is most of the plot's height, not a strip
        for name, values in series.items():
            bars = chart.locator(f"rect.chart-bar[data-series={name}]")
            expect(bars).to_have_count(len(values))
            for i, value in enumerate(values):
                box = bars.nth(i).bounding_box()
                assert box is not None
                assert float(bars.nth(i).get_attribute("data-value") or "nan") == value
                assert abs(box["y"] + box["height"] - axis) <= 1, (name, i, box, axis)
                assert abs(box["height"] - value * scale) <= 1, (name, i, box, value * scale)
                if value == 0:
                    assert box["height"] <= 1, (name, i, box)


def test_job_page_charts_the_iterations(portal: Portal, page: Page, tmp_path: Path) -> None:
    job = _job(portal, tmp_path)
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    charts = page.locator("#iteration-charts svg")
    expect(charts).to_have_count(3)
    machine = page.locator("#iteration-charts rect.chart-bar[data-series=machine]")
    expect(machine).to_have_count(1)
    assert machine.first.get_attribute("data-value") == "70"
    human = page.locator("#iteration-charts rect.chart-bar[data-series=human]")
    assert human.first.get_attribute("data-value") == "130"
    expect(page.locator("circle.point[data-series=threshold]")).to_have_count(1)
    expect(page.locator("#iteration-charts line.target")).to_have_count(1)
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 200  # drawn, not blocked by the page's CSP
    rows = page.locator("#iterations tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(2)).to_have_text("70")


def test_a_plain_job_has_no_iteration_charts(portal: Portal, page: Page) -> None:
    job = portal.job(name="plain")
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    expect(page.locator("h1")).to_have_text("plain")
    expect(page.locator("#iteration-charts")).to_have_count(0)
