"""Trainings on request, run by the background workers: the request's record in the queue's
store, and what the worker does with it.

The version row is created inside `registry.train_version`, in the worker, so the requester
cannot know its name up front. Each request gets a random id instead; its record in the queue's
key-value store (which every worker and web process of the project shares) says which version
it became as soon as the version is recorded, or why it failed before one was. The page polls
`training_state(request)`, which joins that record to the version's status and progress:

    queued -> training (version known, progress on its row) -> completed | failed

A failure after the version is recorded is the version's own failure reason, as for any other
training; one before (the data changed while the request waited) is the record's `error`.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from huey.api import Huey

from truthloop.errors import NotFound, TruthloopError
from truthloop.ml import registry
from truthloop.ml.training_runs import TrainSpec, serving_state, train
from truthloop.ml.versions import VersionStatus
from truthloop.storage.project import Project

KEY_PREFIX = "model-training:"
State = Literal["queued", "training", "completed", "failed"]


def new_request_id() -> str:
    return secrets.token_hex(8)


def _key(request: str) -> str:
    return KEY_PREFIX + request


def record(huey: Huey, request: str, **fields: Any) -> None:
    """Merge `fields` into the request's record."""
    huey.put(_key(request), {**(read_record(huey, request) or {}), **fields})


def read_record(huey: Huey, request: str) -> dict[str, Any] | None:
    found = huey.get(_key(request), peek=True)  # peeking: reading must not remove it
    return dict(found) if found is not None else None


def queued(huey: Huey, request: str, spec: TrainSpec) -> None:
    record(huey, request, state="queued", spec=spec.to_json(), version=None, error=None)


def run_request(project: Project, huey: Huey, request: str, spec_json: dict[str, Any]) -> None:
    """The worker's side: train, telling the record the version's name once it exists. A
    refusal is recorded, not raised: trying again would refuse again."""
    spec = TrainSpec.from_json(spec_json)
    try:
        train(project, spec, on_recorded=lambda name: record(huey, request, version=name))
    except TruthloopError as error:
        # ModelError after the version is recorded: its row holds the reason already.
        record(huey, request, error=str(error))
        return
    except BaseException as error:
        record(huey, request, error=f"{type(error).__name__}: {error}")
        raise


def training_state(project: Project, huey: Huey, request: str) -> dict[str, Any]:
    """The request's state, its version (once recorded) with status, progress and failure
    reason, or NotFound for an id no request had."""
    found = read_record(huey, request)
    if found is None:
        raise NotFound(f"no training request {request!r} (it is not in this project's queue)")
    answer: dict[str, Any] = {
        "request": request,
        "state": "queued",
        "spec": found.get("spec"),
        "version": found.get("version"),
        "status": None,
        "progress": None,
        "failure_reason": None,
        "error": found.get("error"),
    }
    if answer["version"] is None:
        answer["state"] = "failed" if answer["error"] else "queued"
        return answer
    version = registry.get_version(project, answer["version"])
    answer.update(
        state=_state(version.status),
        status=version.status.value,
        progress=serving_state(project, version.name).progress,
        failure_reason=version.failure_reason,
    )
    return answer


def _state(status: VersionStatus) -> State:
    if status is VersionStatus.TRAINING_IN_PROGRESS:
        return "training"
    return "failed" if status is VersionStatus.TRAINING_FAILED else "completed"
