"""Feedback runs over REST (`/api/feedback...`) and as portal pages, for managers.

Starting a run predicts over its dataset (batch prediction, in the request's worker thread);
the report only compares: V2 is trained by `truthloop feedback report`, never in a request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from truthloop.labeling.feedback import FeedbackMode, get_feedback, list_feedback, start_feedback
from truthloop.labeling.feedback_collect import answered_counts, collect_feedback
from truthloop.labeling.feedback_report import feedback_report
from truthloop.web.deps import ProjectDep, RequireManager
from truthloop.web.templating import render
from truthloop.web.text_fields import Line

router = APIRouter(tags=["feedback"])

# Bar colours of the counts chart, in the order the chart lists them.
COUNT_COLOURS = {
    "accepted": "#2e7d32",
    "adjusted": "#f9a825",
    "rejected": "#c62828",
    "added": "#1565c0",
}


class FeedbackStart(BaseModel):
    model: Line
    dataset: Line
    team: Line
    mode: FeedbackMode = FeedbackMode.VERIFY
    batch_size: int = Field(10, ge=1)
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    name: Line | None = None


class FeedbackCollect(BaseModel):
    partial: bool = False
    dataset: Line | None = None


@router.get("/api/feedback")
def list_runs(project: ProjectDep, _: RequireManager) -> list[dict[str, Any]]:
    return [run.to_json() for run in list_feedback(project)]


@router.post("/api/feedback", status_code=201)
def start(project: ProjectDep, _: RequireManager, body: FeedbackStart) -> dict[str, Any]:
    return start_feedback(project, **body.model_dump()).to_json()


@router.get("/api/feedback/{run}")
def show(project: ProjectDep, _: RequireManager, run: str) -> dict[str, Any]:
    return get_feedback(project, run).to_json()


@router.post("/api/feedback/{run}/collect")
def collect(
    project: ProjectDep, _: RequireManager, run: str, body: FeedbackCollect
) -> dict[str, Any]:
    return collect_feedback(project, run, partial=body.partial, dataset=body.dataset).to_json()


@router.get("/api/feedback/{run}/report")
def report(
    project: ProjectDep, _: RequireManager, run: str, test_dataset: str
) -> dict[str, Any]:
    return feedback_report(project, run, test_dataset, train=False).to_json()


def _chart(counts: dict[str, int]) -> list[dict[str, Any]]:
    """One bar per count, its length a percentage of the largest."""
    largest = max(counts.values(), default=0) or 1
    return [
        {"name": name, "value": counts[name], "colour": colour,
         "length": round(100 * counts[name] / largest, 1)}
        for name, colour in COUNT_COLOURS.items()
    ]


@router.get("/feedback", include_in_schema=False)
def runs_page(request: Request, project: ProjectDep, user: RequireManager) -> Response:
    return render(request, "feedback_runs.html", user, runs=list_feedback(project))


@router.get("/feedback/{run}", include_in_schema=False)
def run_page(request: Request, project: ProjectDep, user: RequireManager, run: str) -> Response:
    found = get_feedback(project, run)
    counts, missing = answered_counts(project, run)
    return render(
        request, "feedback_run.html", user,
        run=found, chart=_chart(counts.to_json()), missing=missing,
    )
