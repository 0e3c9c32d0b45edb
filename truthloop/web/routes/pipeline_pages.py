"""The managers' pages for continuous-improvement pipelines: the list, a pipeline's page (the
deployed version, its versions' F1 as a chart against the gate, the parameters, editable, with
their history, the counters, refreshed while the page is open, and the recent runs), and a
run's page with its steps drawn as a timeline.

The F1 chart is defined here as data and drawn by Chart.js (web/charts.py); the timeline is
inline SVG drawn here (no script, nothing fetched, every text escaped). A parameter is changed
by a form per row posting to `/pipelines/{name}/params`, with the portal's CSRF field; a
refused value shows the parameter store's own message (its name and range) on the error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from truthloop.core.pipeline_params import MINIMUM_F1_SCORE
from truthloop.errors import NotFound
from truthloop.pipeline import (
    get_pipeline,
    get_run,
    list_pipelines,
    param_history,
    set_param,
)
from truthloop.pipeline.overview import (
    change_json,
    params_json,
    pipeline_json,
    pipeline_overview,
    run_json,
    step_json,
)
from truthloop.storage.tables import UserRow
from truthloop.web.charts import Chart, Series
from truthloop.web.deps import ProjectDep, RequireManager, SessionDep
from truthloop.web.templating import render
from truthloop.web.text_fields import Line

router = APIRouter(include_in_schema=False)

HISTORY_SHOWN = 20
"""Parameter changes a pipeline's page lists."""
F1_COLOUR, GATE_COLOUR = "#4c78a8", "#333333"
STATUS_COLOURS = {
    "running": "#4c78a8",
    "succeeded": "#54a24b",
    "failed": "#e45756",
    "skipped": "#9d9d9d",
}
TIMELINE_WIDTH, ROW_HEIGHT, NAME_WIDTH = 640, 26, 170
MIN_BAR = 3.0
"""A step's bar is never thinner than this (px): one that took no time still shows."""


@router.get("/pipelines")
def pipelines_page(request: Request, session: SessionDep, user: RequireManager) -> Response:
    rows = [pipeline_json(session, p) for p in list_pipelines(session)]
    return render(request, "pipelines.html", user, pipelines=rows)


@router.get("/pipelines/{name}")
def pipeline_page(
    request: Request, project: ProjectDep, user: RequireManager, name: str
) -> Response:
    overview = pipeline_overview(project, name)
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        params = params_json(session, pipeline)
        history = [
            change_json(c) | {"who": _username(session, c.changed_by)}
            for c in param_history(session, pipeline, limit=HISTORY_SHOWN)
        ]
    gate = next(p["value"] for p in params if p["name"] == MINIMUM_F1_SCORE.name)
    return render(
        request,
        "pipeline.html",
        user,
        p=overview,
        params=params,
        history=history,
        gate=gate,
        gate_name=MINIMUM_F1_SCORE.name,
        chart=_f1_chart(overview["versions"], float(gate)),
    )


def _username(session: Session, user_id: int | None) -> str:
    user = session.get(UserRow, user_id) if user_id is not None else None
    return user.username if user is not None else "-"


def _f1_chart(versions: Sequence[dict[str, Any]], gate: float) -> Chart | None:
    """Each version's F1 on its test split, with the gate (Minimum-F1-Score) as a dashed line;
    None before any version trained."""
    if not versions:
        return None
    return Chart(
        "line", "F1 per version", "version", "F1",
        tuple(str(v["number"]) for v in versions),
        (Series("F1", F1_COLOUR, tuple(v["f1"] for v in versions)),
         Series(MINIMUM_F1_SCORE.name, GATE_COLOUR, (gate,) * len(versions), dashed=True)),
        percent=True,
    )


@router.post("/pipelines/{name}/params")
def change_param(
    project: ProjectDep,
    user: RequireManager,
    name: str,
    parameter: Annotated[Line, Form(max_length=64)],
    value: Annotated[Line, Form(max_length=64)],
) -> Response:
    # The write lock first (SQLite): two changes at once are taken one after the other.
    with project.db.session(immediate=True) as session:
        set_param(session, get_pipeline(session, name), parameter, value, changed_by=user.id)
    return RedirectResponse(f"/pipelines/{name}#parameters", status_code=303)


@router.get("/pipelines/{name}/runs/{run_id}")
def run_page(
    request: Request, session: SessionDep, user: RequireManager, name: str, run_id: int
) -> Response:
    pipeline = get_pipeline(session, name)
    run, steps = get_run(session, run_id)
    if run.pipeline_id != pipeline.id:
        raise NotFound(f"pipeline {name!r} has no run {run_id}")
    shown = [step_json(s) for s in steps]
    return render(
        request,
        "pipeline_run.html",
        user,
        pipeline=name,
        run=run_json(run),
        steps=shown,
        timeline=timeline([(s.name, s.status, s.started_at, s.ended_at) for s in steps]),
        colours=STATUS_COLOURS,
    )


def timeline(steps: Sequence[tuple[str, str, datetime, datetime | None]]) -> Markup:
    """The steps as bars on one time axis, from the first start to the last end, coloured by
    status; a step still running reaches the last moment known."""
    if not steps:
        return Markup("")
    start = min(s[2] for s in steps)
    end = max([s[3] or s[2] for s in steps] + [s[2] for s in steps])
    span = max((end - start).total_seconds(), 1e-9)
    plot = TIMELINE_WIDTH - NAME_WIDTH - 10
    height = ROW_HEIGHT * len(steps) + 20
    parts = [
        f'<svg class="timeline" role="img" viewBox="0 0 {TIMELINE_WIDTH} {height}"'
        f' width="{TIMELINE_WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>steps over time</title>",
    ]
    for i, (name, status, began, ended) in enumerate(steps):
        x = NAME_WIDTH + plot * (began - start).total_seconds() / span
        width = max(plot * ((ended or end) - began).total_seconds() / span, MIN_BAR)
        y = i * ROW_HEIGHT + 4
        colour = STATUS_COLOURS.get(status, "#777")
        parts.append(
            f'<text x="{NAME_WIDTH - 8}" y="{y + 14}" text-anchor="end" font-size="12"'
            f' fill="#333">{escape(name)}</text>'
            f'<rect class="timeline-step" data-step="{escape(name)}" data-status="{escape(status)}"'
            f' x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW_HEIGHT - 8}" fill="{colour}"/>'
        )
    seconds = (end - start).total_seconds()
    parts.append(
        f'<text x="{NAME_WIDTH}" y="{height - 4}" font-size="11" fill="#555">0 s</text>'
        f'<text x="{TIMELINE_WIDTH - 10}" y="{height - 4}" text-anchor="end" font-size="11"'
        f' fill="#555">{seconds:.1f} s</text></svg>'
    )
    return Markup("".join(parts))
