"""The terms of an automated-labeling job: what a user may ask for (`AutoLabelSpec`), the checks
it passes before anything is stored, and the row that keeps the terms once the job's sizes are
known (`core.rounds.job_sizes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from truthloop.core import job_terms as terms
from truthloop.core.rounds import Sizes
from truthloop.errors import InputError
from truthloop.labeling.autolabel.items import proposals_attribute
from truthloop.labeling.autolabel.model import MODEL_TASKS
from truthloop.labeling.jobs import JobSpec, TaskType
from truthloop.ml.backbones import check_backbone
from truthloop.ml.registry import get_version
from truthloop.storage.project import Project
from truthloop.storage.tables import AutoLabelJobRow


class Sampling(StrEnum):
    UNCERTAINTY = "uncertainty"
    RANDOM = "random"


@dataclass(frozen=True)
class AutoLabelSpec:
    """The terms of automated labeling. `batch_size` defaults to a tenth of the items (within
    20-250), `validation_size` to an eighth (within 100-250); the validation set then grows, up to
    `validation_max` (default: a sixth of the items, within 100-250; a `validation_size` given
    stays fixed unless `validation_max` is given too), when only its size keeps the model from
    labeling more than the growth costs (`core.thresholds.validation_needed`); `budget` caps
    the cost (people's tasks at the job's price plus compute at `compute_price_per_hour`);
    `train_passes` sizes each training (images seen, about epochs x images);
    `backend`/`backend_params` pick the model (default: the built-in one for the task) and
    `backbone` what a built-in one is built on (`truthloop.ml.backbones`; default: the
    default backbone); `pre_annotate` shows people the model's labels of the items they label
    for training, as proposals under the attribute `<job>-proposals`."""

    target_accuracy: float = terms.TARGET_ACCURACY
    confidence: float = terms.BOUND_CONFIDENCE
    batch_size: int | None = None
    validation_size: int | None = None
    validation_max: int | None = None
    budget: float | None = None
    compute_price_per_hour: float = terms.COMPUTE_PRICE_PER_HOUR
    sampling: Sampling = Sampling.UNCERTAINTY
    initial_model: str | None = None
    model_project: str | None = None
    backend: str | None = None
    backend_params: dict[str, Any] | None = None
    backbone: str | None = None
    train_passes: int = 2000
    seed: int = 0
    pre_annotate: bool = True


def check_autolabel_spec(spec: AutoLabelSpec, task_type: TaskType) -> None:
    """InputError saying what is wrong with the terms, for a job of `task_type`."""
    if task_type not in MODEL_TASKS:
        kinds = ", ".join(t.value for t in MODEL_TASKS)
        raise InputError(f"automated labeling works for {kinds} jobs, not {task_type.value}")
    for what, value in (("target accuracy", spec.target_accuracy), ("confidence", spec.confidence)):
        if not terms.MIN_ACCURACY <= value < 1.0:
            raise InputError(
                f"{what} must be at least {terms.MIN_ACCURACY} and below 1, not {value!r}"
            )
    for what, size in (
        ("batch size", spec.batch_size),
        ("validation size", spec.validation_size),
        ("validation max", spec.validation_max),
    ):
        if size is not None and size < 1:
            raise InputError(f"{what} must be at least 1, not {size!r}")
    if spec.validation_max is not None and spec.validation_max < (spec.validation_size or 1):
        raise InputError(
            f"validation max ({spec.validation_max}) must be at least the validation size"
            f" ({spec.validation_size})"
        )
    if spec.budget is not None and not (math.isfinite(spec.budget) and spec.budget > 0):
        raise InputError(f"the budget must be a number above 0, not {spec.budget!r}")
    if not (math.isfinite(spec.compute_price_per_hour) and spec.compute_price_per_hour >= 0):
        raise InputError(
            f"the compute price per hour must be >= 0, not {spec.compute_price_per_hour!r}"
        )
    if spec.train_passes < 1:
        raise InputError(f"train passes must be at least 1, not {spec.train_passes!r}")
    Sampling(spec.sampling)
    model_params(spec)


def model_params(spec: AutoLabelSpec) -> dict[str, Any]:
    """The parameters the job's model is built with: `backend_params` and the `backbone`,
    checked here so that a bad one is refused before the job exists, not at its first
    training."""
    params = dict(spec.backend_params or {})
    given = params.get("backbone")
    if spec.backbone is not None and given not in (None, spec.backbone):
        raise InputError(
            f"backbone {spec.backbone!r} and backend parameter backbone {given!r} differ: give one"
        )
    if spec.backbone is not None:
        params["backbone"] = spec.backbone
    if params.get("backbone") is not None:
        check_backbone(str(params["backbone"]))
    return params


def autolabel_job_spec(project: Project, spec: JobSpec, auto: AutoLabelSpec) -> JobSpec:
    """The job's spec as an automated-labeling job creates it (its own model's proposals
    shown under `<job>-proposals` when it pre-annotates), once its terms and initial model
    pass their checks; InputError says what is wrong."""
    task_type = TaskType(spec.task_type)
    check_autolabel_spec(auto, task_type)
    if auto.pre_annotate:
        if spec.proposals is not None:
            raise InputError(
                "an automated labeling job shows people its own model's proposals; to show those"
                f" under {spec.proposals!r} instead, turn pre-annotation off"
            )
        spec = replace(spec, proposals=proposals_attribute(spec.name))
    if auto.initial_model is not None:
        initial = get_version(project, auto.initial_model)
        if initial.task is not MODEL_TASKS[task_type]:
            raise InputError(
                f"initial model {initial.name} does {initial.task.value}, but a {task_type.value}"
                f" job needs a {MODEL_TASKS[task_type].value} model"
            )
    return spec


def terms_row(job_id: int, spec: JobSpec, auto: AutoLabelSpec, sizes: Sizes) -> AutoLabelJobRow:
    """The row that keeps the job's automated-labeling terms, before its first batch."""
    return AutoLabelJobRow(
        job_id=job_id,
        task=MODEL_TASKS[TaskType(spec.task_type)].value,
        target_accuracy=auto.target_accuracy,
        confidence=auto.confidence,
        batch_size=sizes.batch,
        validation_size=sizes.validation,
        validation_max=sizes.validation_max,
        budget=auto.budget,
        compute_price_per_hour=auto.compute_price_per_hour,
        sampling=Sampling(auto.sampling).value,
        model_project=auto.model_project or spec.name,
        backend=auto.backend,
        backend_params=model_params(auto),
        initial_model=auto.initial_model,
        train_passes=auto.train_passes,
        seed=auto.seed,
        batch=0,
    )
