"""The model of an automated-labeling iteration: trained on what people labeled (from the last
iteration's model, or the job's initial model) through the model registry, which keeps it as a
version so a later job can start from it, and asked for its labels.

The registry does the training (`train_records`: the heartbeat, a failed training marked
TRAINING_FAILED, the artifact under the version's name) and the predicting (`predict_items`);
this module says which model a job trains, for how many epochs, and what it already said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from truthloop.core.types import ImageRecord, Value
from truthloop.labeling.jobs import TaskType
from truthloop.ml.backend import ModelBackend, Task
from truthloop.ml.registry import (
    TrainedVersion,
    default_backend,
    get_version,
    predict_items,
    train_records,
)
from truthloop.ml.versions import backend_class, fresh_like, load_model
from truthloop.storage.project import Project

# Training is sized by images seen (epochs x images), so an iteration's training time stays
# about the same as people's labels grow; a few epochs at least, and no more than this many.
# The first model learns from one batch, and more epochs there decide whether it can label at
# all: the built-in detector trained on 125 synthetic logos was right on 82.5 % and 89.1 % of
# 1,125 unseen ones at 40 epochs (two draws), 92.8 % and 93.1 % at 80, as right as one trained
# on 250 at 32; a 156-item validation set then certified 57-59 % of the rest on average, not
# 39-43 %.
MIN_EPOCHS, MAX_EPOCHS = 3, 80

MODEL_TASKS = {
    TaskType.CLASSIFICATION: Task.CLASSIFICATION,
    TaskType.MULTILABEL: Task.MULTILABEL,
    TaskType.BOUNDING_BOX: Task.DETECTION,
}


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


def _untrained(terms: ModelTerms, epochs: int) -> ModelBackend:
    """The model a job trains first: the built-in one for its task, or the backend it names,
    with its hyper-parameters."""
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
) -> TrainedVersion:
    """Train on `records` from the version `start_from` (or from scratch) and record the new
    version, complete, under `model_project`; `report` joins its training report."""
    epochs = epochs_for(terms.passes, len(records))
    return train_records(
        project,
        model_project,
        records,
        task=terms.task,
        labels=terms.labels,
        dataset=dataset,
        from_version=start_from,
        # From a version, a model like it (its hyper-parameters, so its weights fit) with this
        # round's epochs; from scratch, the job's model as it is.
        epochs=epochs if start_from is not None else None,
        model=None if start_from is not None else _untrained(terms, epochs),
        about=report,
    )


def reuse(project: Project, name: str) -> TrainedVersion:
    """The version `name` as it is, for a round with nothing new to train on."""
    version = get_version(project, name)
    return TrainedVersion(version, load_model(project, version))


# The labels the last version asked gave, by item: a round that reuses the model of the round
# before (after second opinions on the validation set) would otherwise predict the same images
# again. One version at a time, per project, in this process.
_LAST: dict[tuple[str, str], dict[int, Value]] = {}


def predict_with(
    project: Project, trained: TrainedVersion, items: Sequence[tuple[int, str]]
) -> dict[int, Value]:
    """The version's label for each (item id, uri) whose image can be read (an unreadable one
    is left for people, who will see the image is bad), reusing what it said before about the
    same items."""
    key = (str(project.home), trained.version.name)
    known = _LAST.get(key, {})
    found = {i: known[i] for i, _ in items if i in known}
    asked = [x for x in items if x[0] not in known]
    found.update(
        (p.item_id, p.value)
        for p in predict_items(project, trained.model, asked)
        if p.value is not None
    )
    _LAST.clear()
    _LAST[key] = {**known, **found}
    return found
