"""Starting a labeling job, one way for every entry point: with automated labeling when its
terms are given, as a plain job of tasks waiting for the team otherwise. The REST API, the
portal's new-job form and `truthloop job create` all call `start_job`."""

from __future__ import annotations

from truthloop.labeling.autolabel import AutoLabelSpec, create_autolabel_job
from truthloop.labeling.jobs import JobSpec, create_job
from truthloop.storage.project import Project


def start_job(
    project: Project,
    spec: JobSpec,
    auto: AutoLabelSpec | None = None,
    *,
    created_by: int | None = None,
) -> int:
    """Create the job `spec` describes (with `auto`: people get a first batch and the
    background worker runs each iteration after it); its id. InputError says what is wrong
    with the terms (nothing is stored then)."""
    if auto is not None:
        return create_autolabel_job(project, spec, auto, created_by=created_by)
    with project.session() as session:
        return create_job(session, spec, created_by=created_by).id
