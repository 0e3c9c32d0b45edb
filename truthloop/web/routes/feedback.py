"""Feedback runs over REST (`/api/feedback...`) and as portal pages, for managers.

Starting a run predicts over its dataset (batch prediction, in the request's worker thread);
the report only compares: V2 is trained by `truthloop feedback report`, never in a request.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from truthloop.labeling.feedback import get_feedback, list_feedback, start_feedback
from truthloop.labeling.feedback.collect import answered_counts, collect_feedback
from truthloop.labeling.feedback.report import feedback_report
from truthloop.web.charts import counts_chart
from truthloop.web.deps import ProjectDep, RequireManager
from truthloop.web.feedback_schemas import (
    CollectResultPublic,
    FeedbackCollect,
    FeedbackReportPublic,
    FeedbackRunPublic,
    FeedbackStart,
)
from truthloop.web.templating import render

router = APIRouter(tags=["feedback"])

# Bar colours of the counts chart, in the order the chart lists them.
COUNT_COLOURS = {
    "accepted": "#2e7d32",
    "adjusted": "#f9a825",
    "rejected": "#c62828",
    "added": "#1565c0",
}


@router.get("/api/feedback")
def list_runs(project: ProjectDep, _: RequireManager) -> list[FeedbackRunPublic]:
    return [FeedbackRunPublic.of(run) for run in list_feedback(project)]


@router.post("/api/feedback", status_code=201)
def start(project: ProjectDep, _: RequireManager, body: FeedbackStart) -> FeedbackRunPublic:
    return FeedbackRunPublic.of(start_feedback(project, **body.model_dump()))


@router.get("/api/feedback/{run}")
def show(project: ProjectDep, _: RequireManager, run: str) -> FeedbackRunPublic:
    return FeedbackRunPublic.of(get_feedback(project, run))


@router.post("/api/feedback/{run}/collect")
def collect(
    project: ProjectDep, _: RequireManager, run: str, body: FeedbackCollect
) -> CollectResultPublic:
    result = collect_feedback(project, run, partial=body.partial, dataset=body.dataset)
    return CollectResultPublic.of(result)


@router.get("/api/feedback/{run}/report")
def report(
    project: ProjectDep, _: RequireManager, run: str, test_dataset: str
) -> FeedbackReportPublic:
    """V1 and V2 on `test_dataset`; V2 is trained by `truthloop feedback report`, never here."""
    return FeedbackReportPublic.of(feedback_report(project, run, test_dataset, train=False))


@router.get("/feedback", include_in_schema=False)
def runs_page(request: Request, project: ProjectDep, user: RequireManager) -> Response:
    return render(request, "feedback_runs.html", user, runs=list_feedback(project))


@router.get("/feedback/{run}", include_in_schema=False)
def run_page(request: Request, project: ProjectDep, user: RequireManager, run: str) -> Response:
    found = get_feedback(project, run)
    counts, missing = answered_counts(project, run)
    return render(
        request, "feedback_run.html", user,
        run=found, missing=missing,
        counts_chart=counts_chart(
            "What people did with the proposals", counts.to_json(), COUNT_COLOURS
        ),
    )
