"""Model versions as the registry keeps them: their status words, the `ModelVersion` value, the
queries over their rows, and their artifacts in the blob store.

Statuses are Rekognition's ProjectVersionStatus words. A version is created
TRAINING_IN_PROGRESS and ends TRAINING_COMPLETED or TRAINING_FAILED; a completed version is
then RUNNING (served) or STOPPED. Artifacts are written once, under a key no other version
uses, and never rewritten: a version's row points at its own file.
"""

from __future__ import annotations

import importlib
import inspect
import secrets
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from truthloop.core.names import name_problem
from truthloop.errors import InvalidName, ModelError, NotFound
from truthloop.ml.backend import ModelBackend, Task
from truthloop.storage.project import Project
from truthloop.storage.tables import ModelProjectRow, ModelVersionRow, utcnow

# Where each backend kind's class lives; imported only when a model of that kind is loaded, so
# that commands which never touch a net do not pay for importing torch.
BACKENDS = {
    "classifier": ("truthloop.ml.classifier", "Classifier"),
    "detector": ("truthloop.ml.detector", "Detector"),
    "fake": ("truthloop.ml.fake", "FakeModel"),
}
# The confidence a label must reach when its version's evaluation gave it no assumed threshold
# (the label had no image in the test set).
DEFAULT_THRESHOLD = 0.5


class VersionStatus(StrEnum):
    TRAINING_IN_PROGRESS = "TRAINING_IN_PROGRESS"
    TRAINING_COMPLETED = "TRAINING_COMPLETED"
    TRAINING_FAILED = "TRAINING_FAILED"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"

    @property
    def trained(self) -> bool:
        """Whether the version has a model to load."""
        return self in (
            VersionStatus.TRAINING_COMPLETED,
            VersionStatus.RUNNING,
            VersionStatus.STOPPED,
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a model project: what it was trained on, how it scored, where it is.

    `metrics` is the evaluation summary on the test set (`Evaluation.to_json()`);
    `training_report` what training did (images, skipped images, seconds, ECE before and
    after calibration, the test set used).
    """

    name: str
    project: str
    number: int
    task: Task
    status: VersionStatus
    backend: str
    params: Mapping[str, Any]
    parent: str | None
    training_dataset: str
    test_dataset: str | None
    labels: tuple[str, ...]
    metrics: Mapping[str, Any] | None
    training_report: Mapping[str, Any] | None
    artifact_uri: str | None
    failure_reason: str | None
    created_at: datetime
    training_ended_at: datetime | None
    updated_at: datetime

    @property
    def f1(self) -> float | None:
        return None if self.metrics is None else float(self.metrics["f1"])

    def thresholds(self) -> dict[str, float]:
        """Each label's assumed threshold (0-1) from the evaluation, as detect applies them."""
        found = {
            m["label"]: float(m["threshold"]) for m in (self.metrics or {}).get("per_label", ())
        }
        return {label: found.get(label, DEFAULT_THRESHOLD) for label in self.labels}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able data; `version` names the version (a stable interface)."""
        return {
            "version": self.name,
            "project": self.project,
            "number": self.number,
            "task": self.task.value,
            "status": self.status.value,
            "backend": self.backend,
            "params": dict(self.params),
            "parent": self.parent,
            "training_dataset": self.training_dataset,
            "test_dataset": self.test_dataset,
            "labels": list(self.labels),
            "metrics": self.metrics,
            "training_report": self.training_report,
            "artifact_uri": self.artifact_uri,
            "failure_reason": self.failure_reason,
            "created_at": self.created_at.isoformat(),
            "training_ended_at": self.training_ended_at.isoformat()
            if self.training_ended_at
            else None,
            "updated_at": self.updated_at.isoformat(),
        }


# ---- rows ----------------------------------------------------------------------------------


def _versions() -> Select[ModelVersionRow, str, str | None]:
    parent = aliased(ModelVersionRow)
    return (
        select(ModelVersionRow, ModelProjectRow.name, parent.name)
        .join(ModelProjectRow, ModelProjectRow.id == ModelVersionRow.project_id)
        .outerjoin(parent, parent.id == ModelVersionRow.parent_id)
    )


def _version(row: ModelVersionRow, project: str, parent: str | None) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        project=project,
        number=row.number,
        task=Task(row.task),
        status=VersionStatus(row.status),
        backend=row.backend,
        params=row.params or {},
        parent=parent,
        training_dataset=row.training_dataset,
        test_dataset=row.test_dataset,
        labels=tuple(row.labels or ()),
        metrics=row.metrics,
        training_report=row.training_report,
        artifact_uri=row.artifact_uri,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        training_ended_at=row.training_ended_at,
        updated_at=row.updated_at,
    )


def find_version(session: Session, name: str) -> ModelVersion:
    found = session.execute(_versions().where(ModelVersionRow.name == name)).first()
    if found is None:
        known = session.scalars(
            select(ModelVersionRow.name).order_by(ModelVersionRow.id.desc()).limit(10)
        ).all()
        raise NotFound(
            f"no model version named {name!r} (latest: {', '.join(known) or 'none'};"
            " see `truthloop model list`)"
        )
    return _version(*found)


def find_versions(session: Session, project: str | None = None) -> list[ModelVersion]:
    query = _versions().order_by(ModelProjectRow.name, ModelVersionRow.number)
    if project is not None:
        query = query.where(ModelProjectRow.name == project)
    return [_version(*found) for found in session.execute(query).all()]


def version_row(session: Session, name: str) -> ModelVersionRow:
    row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.name == name))
    if row is None:
        raise NotFound(f"no model version named {name!r}")
    return row


def add_version(
    session: Session, project: str, *, parent: ModelVersion | None, **fields: Any
) -> ModelVersionRow:
    """A new TRAINING_IN_PROGRESS row numbered after the project's last version (the project is
    created with its first version). Call it in a transaction that holds the write lock."""
    problem = name_problem("model project", project)
    if problem:
        raise InvalidName(problem)
    owner = session.scalar(select(ModelProjectRow).where(ModelProjectRow.name == project))
    if owner is None:
        owner = ModelProjectRow(name=project)
        session.add(owner)
        session.flush()
    last = session.scalar(
        select(func.max(ModelVersionRow.number)).where(ModelVersionRow.project_id == owner.id)
    )
    number = (last or 0) + 1
    parent_id = version_row(session, parent.name).id if parent is not None else None
    now = utcnow()
    row = ModelVersionRow(
        project_id=owner.id,
        number=number,
        name=f"{project}.v{number}",
        status=VersionStatus.TRAINING_IN_PROGRESS.value,
        parent_id=parent_id,
        created_at=now,
        updated_at=now,
        heartbeat_at=now,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


# ---- backends and artifacts ----------------------------------------------------------------


def backend_class(kind: str) -> type[ModelBackend]:
    if kind not in BACKENDS:
        raise ModelError(f"unknown model backend {kind!r} (known: {', '.join(BACKENDS)})")
    module, name = BACKENDS[kind]
    cls: type[ModelBackend] = getattr(importlib.import_module(module), name)
    return cls


def backend_kind(model: ModelBackend) -> str:
    """The registry's name for the backend class of `model`."""
    for kind, (module, name) in BACKENDS.items():
        # A model's own module is imported already; the others need not be.
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(model, getattr(loaded, name)):
            return kind
    raise ModelError(
        f"the registry cannot keep a {type(model).__name__} model; it keeps"
        f" {', '.join(name for _, name in BACKENDS.values())}"
    )


def hyper_parameters(model: ModelBackend) -> dict[str, Any]:
    """The keywords of the model's `__init__` with their values (the estimator contract)."""
    names = [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]
    return {name: getattr(model, name) for name in names}


def fresh_like(model: ModelBackend, **overrides: Any) -> ModelBackend:
    """An untrained model with `model`'s hyper-parameters; overrides it does not take are
    ignored (a FakeModel has no epochs)."""
    params = hyper_parameters(model)
    params.update({k: v for k, v in overrides.items() if k in params})
    return type(model)(**params)


def params_json(model: ModelBackend) -> dict[str, Any]:
    plain = (str, int, float, bool, type(None))
    return {
        k: v.value if isinstance(v, StrEnum) else v if isinstance(v, plain) else str(v)
        for k, v in hyper_parameters(model).items()
    }


def artifact_key(project: str, version: str) -> str:
    # A fresh random part: an earlier artifact is never overwritten, even for a reused name.
    return f"models/{project}/{version}/{secrets.token_hex(8)}/artifact"


def save_artifact(project: Project, model: ModelBackend, key: str, scratch: Path) -> str:
    """Write `model` to the blob store under `key`; returns its URI."""
    local = scratch / "artifact"
    model.save(local)
    return project.blobs.put_file(key, local)


def fetch_artifact(project: Project, version: ModelVersion, dest: Path) -> Path:
    """The version's artifact copied to `dest` (the blob itself is only read)."""
    if not version.status.trained or version.artifact_uri is None:
        reason = f": {version.failure_reason}" if version.failure_reason else ""
        raise ModelError(
            f"model version {version.name} has no trained model (it is {version.status}{reason})"
        )
    try:
        data = project.read_bytes(version.artifact_uri)
    except OSError as error:
        raise ModelError(
            f"model version {version.name}: its artifact {version.artifact_uri} cannot be read"
            f" ({error})"
        ) from error
    dest.write_bytes(data)
    return dest


def load_model(project: Project, version: ModelVersion) -> ModelBackend:
    """The version's trained model, read from its artifact."""
    cls = backend_class(version.backend)
    with tempfile.TemporaryDirectory(prefix="truthloop-model-") as scratch:
        return cls.load(fetch_artifact(project, version, Path(scratch) / "artifact"))
