"""The job page of an automated-labeling job charts its iterations with Chart.js (served from
the package), and lists the same numbers in a table for a page read without scripts."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.labeling.colours import FAKE, colour_dataset, colour_images
from tests.web.charts import assert_bars_match_values, chart_data, series, wait_for_charts
from tests.web.conftest import sign_in as client_sign_in
from tests.web.portal import Portal
from tests.web.portal import browser_sign_in as sign_in
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


def test_every_bar_rises_from_the_axis_to_its_value(portal: Portal, page: Page) -> None:
    """Measured as drawn: the portal's stylesheet once gave the bars a fixed height of 8 px,
    so each hung as a strip at its value and a 0 hung below the axis."""
    job = _recorded_job(portal)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    wait_for_charts(page)
    charts = page.locator("#iteration-charts canvas")
    expect(charts).to_have_count(3)
    page.locator("#iteration-charts").screenshot(path="/tmp/truthloop-iteration-charts.png")
    labels, accuracy, cost = (charts.nth(i) for i in range(3))
    assert chart_data(labels)["labels"] == ["1", "2", "3"]
    assert series(labels) == {"human": list(HUMAN), "machine": list(MACHINE)}
    assert series(cost) == {"cost": list(COST)}
    assert assert_bars_match_values(labels) == 2 * len(HUMAN)
    assert assert_bars_match_values(cost) == len(COST)
    assert series(accuracy)["target"] == [0.95] * 3  # the target, dashed
    assert series(accuracy)["val. accuracy"] == [0.97] * 3
    box = labels.bounding_box()
    assert box is not None and box["width"] > 200  # drawn, not blocked by the page's CSP
    assert problems == []


def test_job_page_charts_the_iterations(portal: Portal, page: Page, tmp_path: Path) -> None:
    job = _job(portal, tmp_path)
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    wait_for_charts(page)
    charts = page.locator("#iteration-charts canvas")
    expect(charts).to_have_count(3)
    assert series(charts.nth(0)) == {"human": [130], "machine": [70]}
    accuracy = series(charts.nth(1))
    assert set(accuracy) == {"threshold", "val. accuracy", "accuracy bound", "target"}
    assert len(accuracy["threshold"]) == 1
    rows = page.locator("#iterations tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(2)).to_have_text("70")


def test_the_numbers_are_on_the_page_without_scripts(portal: Portal, client: TestClient) -> None:
    """A reader without scripts gets each chart's numbers as a table, and the page fetches
    Chart.js from the portal itself."""
    job = _recorded_job(portal)
    client_sign_in(client, "mia")
    html = client.get(f"/jobs/{job}").text
    assert '<script src="/static/vendor/chartjs/chart.umd.js"></script>' in html
    assert "cdn" not in html.lower()
    assert '<td class="num" data-series="machine">45</td>' in html
    assert '<td class="num" data-series="cost">7.25</td>' in html
    script = client.get("/static/vendor/chartjs/chart.umd.js")
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]


def test_a_plain_job_has_no_iteration_charts(portal: Portal, page: Page) -> None:
    job = portal.job(name="plain")
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    expect(page.locator("h1")).to_have_text("plain")
    expect(page.locator("#iteration-charts")).to_have_count(0)
