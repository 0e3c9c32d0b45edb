"""The model of an automated-labeling iteration: trained on what people labeled (from the last
iteration's model, or the job's initial model), kept as a version in the model registry so a
later job can start from it, and asked for its labels.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from truthloop.core.types import ImageRecord, Value
from truthloop.errors import ModelError
from truthloop.labeling.jobs import TaskType
from truthloop.ml.backend import ModelBackend, Task
from truthloop.ml.registry import default_backend, get_version
from truthloop.ml.serving import UNREADABLE
from truthloop.ml.versions import (
    VersionStatus,
    add_version,
    artifact_key,
    backend_class,
    backend_kind,
    fetch_artifact,
    fresh_like,
    load_model,
    params_json,
    save_artifact,
)
from truthloop.storage.project import Project
from truthloop.storage.tables import utcnow

# Training is sized by images seen (epochs x images), so an iteration's training time stays
# about the same as people's labels grow; a few epochs at least, and no more than this many.
# The first model learns from one batch, and more epochs there decide whether it can label at
# all: the built-in detector trained on 125 synthetic logos was right on 82.5 % and 89.1 % of
# 1,125 unseen ones at 40 epochs (two draws), 92.8 % and 93.1 % at 80, as right as one trained
# on 250 at 32; a 156-item validation set then certified 57-59 % of the rest on average, not
# 39-43 %.
MIN_EPOCHS, MAX_EPOCHS = 3, 80
_PREDICT_BATCH = 32

MODEL_TASKS = {
    TaskType.CLASSIFICATION: Task.CLASSIFICATION,
    TaskType.MULTILABEL: Task.MULTILABEL,
    TaskType.BOUNDING_BOX: Task.DETECTION,
}


@dataclass(frozen=True, slots=True)
class Trained:
    version: str
    model: ModelBackend
    seconds: float


@dataclass(frozen=True, slots=True)
class ModelTerms:
    """Which model an automated-labeling job trains, and how long."""

    task: Task
    labels: tuple[str, ...]
    backend: str | None  # a registry backend kind; None: the built-in model for the task
    params: Mapping[str, Any]  # its hyper-parameters (the built-in's defaults when empty)
    passes: int  # images seen per training, about epochs x images


def epochs_for(passes: int, images: int) -> int:
    return max(MIN_EPOCHS, min(MAX_EPOCHS, round(passes / max(images, 1))))


def _untrained(terms: ModelTerms, epochs: int, parent: ModelBackend | None) -> ModelBackend:
    if parent is not None:
        return fresh_like(parent, epochs=epochs)
    if terms.backend is None:
        model = default_backend(terms.task, epochs)
        return fresh_like(model, **terms.params) if terms.params else model
    params = dict(terms.params)
    if "task" in params:
        params["task"] = Task(params["task"])
    return fresh_like(backend_class(terms.backend)(**params), epochs=epochs)


def train(
    project: Project,
    terms: ModelTerms,
    records: Sequence[ImageRecord],
    *,
    model_project: str,
    dataset: str,
    start_from: str | None,
    report: Mapping[str, Any],
) -> Trained:
    """Train on `records` from the version `start_from` (or from scratch) and record the new
    version, complete, under `model_project`."""
    started = time.perf_counter()
    parent = get_version(project, start_from) if start_from is not None else None
    if parent is not None and parent.task is not terms.task:
        raise ModelError(
            f"cannot start a {terms.task.value} model from {parent.name}, a {parent.task.value}"
            " model"
        )
    epochs = epochs_for(terms.passes, len(records))
    with tempfile.TemporaryDirectory(prefix="truthloop-autolabel-") as folder:
        scratch = Path(folder)
        init_from = fetch_artifact(project, parent, scratch / "parent") if parent else None
        earlier = backend_class(parent.backend).load(init_from) if parent and init_from else None
        model = _untrained(terms, epochs, earlier)
        model.fit(records, project.load_image, labels=terms.labels, init_from=init_from)
        uri = save_artifact(
            project, model, artifact_key(model_project, str(report.get("job", "job"))), scratch
        )
    seconds = time.perf_counter() - started
    with project.db.session(immediate=True) as session:
        row = add_version(
            session,
            model_project,
            parent=parent,
            task=terms.task.value,
            backend=backend_kind(model),
            params=params_json(model),
            training_dataset=dataset,
            test_dataset=None,
            labels=list(terms.labels),
        )
        row.status = VersionStatus.TRAINING_COMPLETED.value
        row.artifact_uri = uri
        row.training_report = {
            **report,
            "images": len(records),
            "epochs": epochs,
            "seconds": seconds,
        }
        row.training_ended_at = row.updated_at = utcnow()
        name = row.name
    return Trained(name, model, seconds)


def reuse(project: Project, name: str) -> Trained:
    """The version `name` as it is, for a round with nothing new to train on."""
    started = time.perf_counter()
    version = get_version(project, name)
    return Trained(version.name, load_model(project, version), time.perf_counter() - started)


# The labels the last version asked gave, by item: a round that reuses the model of the round
# before (after second opinions on the validation set) would otherwise predict the same images
# again. One version at a time, per project, in this process.
_LAST: dict[tuple[str, str], dict[int, Value]] = {}


def predict_with(
    project: Project, trained: Trained, items: Sequence[tuple[int, str]]
) -> dict[int, Value]:
    """`predict` for the version `trained`, reusing what it said before about the same items."""
    key = (str(project.home), trained.version)
    known = _LAST.get(key, {})
    found = {i: known[i] for i, _ in items if i in known}
    found.update(predict(project, trained.model, [x for x in items if x[0] not in known]))
    _LAST.clear()
    _LAST[key] = {**known, **found}
    return found


def predict(
    project: Project, model: ModelBackend, items: Sequence[tuple[int, str]]
) -> dict[int, Value]:
    """The model's label for each (item id, uri) whose image can be read."""
    found: dict[int, Value] = {}
    for start in range(0, len(items), _PREDICT_BATCH):
        ids, images = [], []
        for item_id, uri in items[start : start + _PREDICT_BATCH]:
            try:
                images.append(project.load_image(uri))
            except UNREADABLE:
                continue  # left for people, who will see the image is bad
            ids.append(item_id)
        if images:
            found.update(zip(ids, model.predict(images), strict=True))
    return found
