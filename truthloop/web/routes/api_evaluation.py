"""REST API: a model version's evaluation (overall and per label), its test images filtered by
outcome and label, and two versions compared on one test set (managers: the test images are
dataset items, which only managers see).

The app registers this router before `api_models`: there `/api/models/{version}` would take
`/api/models/compare` for a version named "compare".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from truthloop.ml import outcomes
from truthloop.ml.outcomes import Outcome
from truthloop.web.deps import ProjectDep, RequireManager
from truthloop.web.evaluation_schemas import (
    IMAGES_LIMIT,
    IMAGES_MAX_LIMIT,
    CompareRowPublic,
    ComparisonPublic,
    EvaluationImage,
    EvaluationImages,
    EvaluationPublic,
)

router = APIRouter(prefix="/api", tags=["models"])

Dataset = Annotated[
    str | None, Query(description="A stored dataset to score on (default: the version's test set).")
]


@router.get("/models/compare")
def compare(
    project: ProjectDep, _: RequireManager, first: str, second: str, dataset: Dataset = None
) -> ComparisonPublic:
    """Two versions of one task on the same test set (default: the first's), per label, with
    the better value of each row."""
    found = outcomes.compare(project, first, second, dataset)
    a, b = found.results
    return ComparisonPublic(
        test_set=found.test_set,
        versions=(EvaluationPublic.of_results(a), EvaluationPublic.of_results(b)),
        rows=[CompareRowPublic.of(r) for r in found.rows],
    )


@router.get("/models/{version}/evaluation")
def evaluation(
    project: ProjectDep, _: RequireManager, version: str, dataset: Dataset = None
) -> EvaluationPublic:
    """Overall F1, precision, recall (and mAP for detection); per label the same at its assumed
    threshold, with its test image count."""
    return EvaluationPublic.of(outcomes.evaluation_summary(project, version, dataset))


@router.get("/models/{version}/evaluation/images")
def evaluation_images(
    project: ProjectDep,
    _: RequireManager,
    version: str,
    dataset: Dataset = None,
    outcome: Outcome | None = None,
    label: str | None = None,
    limit: Annotated[int, Query(ge=1, le=IMAGES_MAX_LIMIT)] = IMAGES_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EvaluationImages:
    """The test images with a mark of `outcome` (and `label`), each with its true and
    predicted labels or boxes and their outcomes; in item order."""
    results = outcomes.version_results(project, version, dataset)
    chosen = results.select(outcome, label)
    return EvaluationImages(
        version=results.version.name,
        test_set=results.test_set,
        outcome=outcome.value if outcome else None,
        label=label,
        total=len(chosen),
        limit=limit,
        offset=offset,
        images=[EvaluationImage.of(i) for i in chosen[offset : offset + limit]],
    )
