"""A pipeline as a person asks for one (`truthloop pipeline create`, `POST /api/pipelines`): with
the review flow it names or one made for a team (review_flow.py), and an intake to watch.

    set_up_pipeline(project, PipelineSpec(...), review_team="reviewers", intake="drop")
"""

from __future__ import annotations

from dataclasses import replace

from truthloop.errors import InputError
from truthloop.pipeline.intake import check_intake, set_intake
from truthloop.pipeline.pipelines import PipelineSpec, check_spec, create_pipeline
from truthloop.pipeline.review_flow import create_review_flow
from truthloop.storage.project import Project


def set_up_pipeline(
    project: Project,
    spec: PipelineSpec,
    *,
    review_team: str | None = None,
    intake: str | None = None,
    created_by: int | None = None,
) -> None:
    """Create a pipeline as a person asks for one: with the review flow it names, or one made
    for `review_team`, and watching `intake`. Everything is checked before anything is made,
    so a refusal leaves no flow or pipeline behind."""
    if spec.flow is not None and review_team is not None:
        raise InputError("give a review flow, or a review team to make one, not both")
    with project.session() as session:
        check_spec(session, spec)
    watched = check_intake(project, intake) if intake is not None else None
    if review_team is not None:
        flow = create_review_flow(
            project, spec.name, spec.task, team=review_team, created_by=created_by
        )
        spec = replace(spec, flow=flow)
    with project.session() as session:
        create_pipeline(session, spec, created_by=created_by)
    if watched is not None:
        set_intake(project, spec.name, watched)
