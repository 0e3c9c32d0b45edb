"""The managers' evaluation pages: a model version's evaluation (overall numbers, the per-label
table, its test images filterable by outcome and label with the predicted boxes dashed and the
true boxes solid) and two versions side by side.

Drawn on the server, as the dataset grid is (an SVG over each `<img>`, every text escaped by
the templates): filtering is a link, so no script runs. The app registers this router before
any `/models/{version}` page, which would take `/models/compare` for a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from truthloop.ml import outcomes
from truthloop.ml.outcomes import ImageOutcome, Mark, Outcome
from truthloop.web.deps import ProjectDep, RequireManager
from truthloop.web.evaluation_schemas import IMAGES_LIMIT
from truthloop.web.templating import render
from truthloop.web.views import label_color

router = APIRouter(include_in_schema=False)

OUTCOME_NAMES = {
    Outcome.TP: "true positive",
    Outcome.FP: "false positive",
    Outcome.FN: "false negative",
}


@dataclass(frozen=True, slots=True)
class DrawnMark:
    """A label or box of a test image as the grid draws it."""

    side: str  # "truth" or "predicted"
    label: str
    outcome: str
    text: str
    color: str
    box: tuple[float, float, float, float] | None


def _drawn(side: str, mark: Mark) -> DrawnMark:
    confidence = f" {mark.confidence:.0%}" if mark.confidence is not None else ""
    text = f"{mark.label}{confidence} · {mark.outcome.value.upper()}"
    box = mark.box
    where = (box.left, box.top, box.width, box.height) if box is not None else None
    return DrawnMark(side, mark.label, mark.outcome.value, text, label_color(mark.label), where)


def _card(image: ImageOutcome) -> dict[str, Any]:
    marks = [_drawn("truth", m) for m in image.truth]
    marks += [_drawn("predicted", m) for m in image.predicted]
    return {
        "item_id": image.item_id,
        "width": image.width,
        "height": image.height,
        "marks": marks,
        "outcomes": sorted({m.outcome for m in marks}),
    }


def _query(**params: str | int | None) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


@router.get("/models/compare")
def compare_page(
    request: Request,
    project: ProjectDep,
    user: RequireManager,
    first: str,
    second: str,
    dataset: str | None = None,
) -> Response:
    found = outcomes.compare(project, first, second, dataset or None)
    return render(request, "model_compare.html", user, comparison=found)


@router.get("/models/{version}/evaluation")
def evaluation_page(
    request: Request,
    project: ProjectDep,
    user: RequireManager,
    version: str,
    dataset: str | None = None,
    outcome: Outcome | None = None,
    label: str | None = None,
    page: int = 1,
) -> Response:
    dataset = dataset or None
    summary = outcomes.evaluation_summary(project, version, dataset)
    results = outcomes.version_results(project, version, dataset)
    chosen = results.select(outcome, label or None)
    pages = max(1, -(-len(chosen) // IMAGES_LIMIT))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * IMAGES_LIMIT : page * IMAGES_LIMIT]
    labels = sorted({*summary.version.labels, *(m["label"] for m in summary.metrics["per_label"])})

    def link(**change: str | int | None) -> str:
        now: dict[str, str | int | None] = {
            "dataset": dataset,
            "outcome": outcome.value if outcome else None,
            "label": label,
        }
        return "?" + _query(**{**now, **change})

    return render(
        request,
        "model_evaluation.html",
        user,
        version=summary.version,
        summary=summary,
        metrics=summary.metrics,
        thresholds=results.thresholds,
        labels=labels,
        outcome=outcome.value if outcome else None,
        outcome_names={o.value: n for o, n in OUTCOME_NAMES.items()},
        label=label or None,
        cards=[_card(i) for i in shown],
        total=len(chosen),
        page=page,
        pages=pages,
        link=link,
    )
