"""The managers' model pages, shaped like Rekognition Custom Labels' console: the Models page
(each model project's versions with status, training time, F1 and datasets, and a form that
trains a new version in the background) and a version's page (its terms, start with inference
units and stop, and a "try it" panel calling the detect API).

Everything that changes state goes through the REST API from the page's script
(static/js/models.js, static/js/model_version.js), with the portal's CSRF header; the pages
only read. A version's evaluation page (`/models/{version}/evaluation`) is another module's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from truthloop.core.holdout import HOLD_OUT_SHARE
from truthloop.ml import registry, serving, training_runs
from truthloop.ml.backbones import SCRATCH, default_backbone, installed_variants
from truthloop.ml.backend import Task
from truthloop.ml.versions import ModelVersion
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.web.deps import ProjectDep, RequireManager
from truthloop.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/models")
def models_page(request: Request, project: ProjectDep, user: RequireManager) -> Response:
    versions = registry.list_versions(project)
    projects: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        projects.setdefault(version.project, []).append(version_view(project, version))
    with project.db.read_session() as session:
        datasets = [d.name for d, _ in store.list_datasets(session)]
    return render(
        request,
        "models.html",
        user,
        projects={name: list(reversed(rows)) for name, rows in projects.items()},
        datasets=datasets,
        tasks=[t.value for t in Task],
        backbones=[SCRATCH, *installed_variants()],
        default_backbone=default_backbone(),
        parents=[v.name for v in versions if v.status.trained],
        max_epochs=training_runs.MAX_EPOCHS,
        hold_out=f"{HOLD_OUT_SHARE:.0%}",
    )


@router.get("/models/{version}")
def version_page(
    request: Request, project: ProjectDep, user: RequireManager, version: str
) -> Response:
    found = registry.get_version(project, version)
    with project.db.read_session() as session:
        datasets = [d.name for d, _ in store.list_datasets(session)]
    return render(
        request,
        "model_version.html",
        user,
        v=version_view(project, found),
        datasets=datasets,
        min_units=serving.MIN_UNITS,
        max_units=serving.MAX_UNITS,
        detect_url=f"{str(request.base_url).rstrip('/')}{detect_path(found.name)}",
    )


def version_path(name: str) -> str:
    return f"/models/{quote(name, safe='')}"


def detect_path(name: str) -> str:
    return f"/api{version_path(name)}/detect"


def version_view(project: Project, version: ModelVersion) -> dict[str, Any]:
    """A version as the pages show it: its JSON, with training time, F1, backbone, progress
    and inference units."""
    state = training_runs.serving_state(project, version.name)
    return {
        **version.to_json(),
        "f1": version.f1,
        "trained": version.status.trained,
        "backbone": version.params.get("backbone"),
        "epochs": (version.training_report or {}).get("epochs") or version.params.get("epochs"),
        "training_time": training_time(version),
        "progress": state.progress,
        "inference_units": state.inference_units,
        "path": version_path(version.name),
    }


def training_time(version: ModelVersion) -> str | None:
    """How long it trained: the report's seconds, else from its creation to its end (a
    failed training has no report); None while it trains."""
    seconds = (version.training_report or {}).get("seconds")
    if seconds is None and version.training_ended_at is not None:
        seconds = _between(version.created_at, version.training_ended_at)
    return None if seconds is None else duration(float(seconds))


def _between(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
