"""The job page of an automated-labeling job charts its iterations (inline SVG, no script)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.labeling.colours import FAKE, colour_dataset, colour_images
from tests.web.portal import Portal
from tests.web.test_browser import sign_in
from truthloop.labeling import JobSpec, TaskType
from truthloop.labeling.autolabel import AutoLabelSpec, create_autolabel_job, run_autolabel
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile


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


def test_job_page_charts_the_iterations(portal: Portal, page: Page, tmp_path: Path) -> None:
    job = _job(portal, tmp_path)
    sign_in(page, "mia")
    page.goto(f"/jobs/{job}")
    charts = page.locator("#iteration-charts svg")
    expect(charts).to_have_count(3)
    machine = page.locator("#iteration-charts rect.bar[data-series=machine]")
    expect(machine).to_have_count(1)
    assert machine.first.get_attribute("data-value") == "70"
    human = page.locator("#iteration-charts rect.bar[data-series=human]")
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
