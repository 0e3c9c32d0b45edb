"""The model registry: train a new version of a model project, evaluate and compare versions,
predict over a dataset, export.

    version = train_version(project, "logos", dataset="logos-train", task="detection")
    version.name, version.status, version.f1          # "logos.v1", TRAINING_COMPLETED, 0.93
    evaluate_version(project, "logos.v1", "logos-test").map50
    compare_versions(project, "logos.v1", "logos.v2", "logos-test").rows()

Every caller that trains goes through here: `train_version` on a stored dataset (evaluated on
its test set), `train_records` on records as given (automated labeling: recorded without an
evaluation, from the previous round's version when there is one). Either way, training
records the version TRAINING_IN_PROGRESS before any work, writes the artifact under a new key
named after the version, evaluates it on the test set (`train_version`), and only then marks it
TRAINING_COMPLETED. If training raises, the version is marked TRAINING_FAILED with the reason.
If the trainer process dies instead, its heartbeat stops, and the next training or listing
marks the version FAILED (see `truthloop.ml.heartbeat`). Earlier versions' artifacts are only
ever read.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy.exc import IntegrityError
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from truthloop.core.types import ImageRecord, Value
from truthloop.errors import InputError, ModelError
from truthloop.ml.backbones import check_backbone, default_backbone
from truthloop.ml.backend import (
    PREDICT_BATCH,
    Example,
    ModelBackend,
    ProgressCallback,
    Task,
    TrainProgress,
    TrainReport,
    check_training_set,
)
from truthloop.ml.evaluate import Evaluation, evaluate
from truthloop.ml.heartbeat import Heartbeat, fail_abandoned_trainings, this_trainer
from truthloop.ml.serving import UNREADABLE, served_model
from truthloop.ml.training_sets import (
    HOLD_OUT_SHARE,
    TrainingSet,
    read_dataset,
    test_split,
    training_set,
)
from truthloop.ml.versions import (
    ModelVersion,
    VersionStatus,
    add_version,
    artifact_key,
    backend_class,
    backend_kind,
    fetch_artifact,
    find_version,
    find_versions,
    fresh_like,
    load_model,
    params_json,
    save_artifact,
    version_row,
)
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import utcnow


def default_backend(
    task: Task, epochs: int | None = None, backbone: str | None = None
) -> ModelBackend:
    """The built-in model for `task` on `backbone` (default: `default_backbone()`, named in
    the version's parameters), imported here: only training and loading need torch."""
    backbone = check_backbone(backbone) if backbone else default_backbone()
    if task is Task.DETECTION:
        from truthloop.ml.detector import Detector

        return Detector(epochs=epochs, backbone=backbone)
    from truthloop.ml.classifier import Classifier

    return Classifier(multilabel=task is Task.MULTILABEL, epochs=epochs, backbone=backbone)


def get_version(project: Project, name: str) -> ModelVersion:
    fail_abandoned_trainings(project)
    with project.session() as session:
        return find_version(session, name)


def list_versions(project: Project, model_project: str | None = None) -> list[ModelVersion]:
    """Every version (of one model project when named), by project and number."""
    fail_abandoned_trainings(project)
    with project.session() as session:
        return find_versions(session, model_project)


# ---- training ------------------------------------------------------------------------------


def train_version(
    project: Project,
    model_project: str,
    *,
    dataset: str,
    task: Task | str,
    test_dataset: str | None = None,
    from_version: str | None = None,
    epochs: int | None = None,
    model: ModelBackend | None = None,
    progress: ProgressCallback | None = None,
    backbone: str | None = None,
    test_share: float = HOLD_OUT_SHARE,
    on_recorded: Callable[[str], None] | None = None,
) -> ModelVersion:
    """Train the next version of `model_project` on the stored dataset `dataset`.

    `model` is the untrained backend to use (default: the built-in one for `task`, or one
    like `from_version`'s model when training starts from it); `epochs` overrides its epochs,
    `backbone` the built-in model's backbone (`truthloop.ml.backbones`: one other than
    `from_version`'s is refused, as its weights would not fit). Without a test dataset or
    items marked `test`, `test_share` of the labeled images are held out to test it.
    Bad data raises `TrainingError` before any version is recorded; a failure after that
    marks the version TRAINING_FAILED and raises `ModelError` (an interrupt is marked the same
    way and passed on). `on_recorded` is told the new version's name as soon as it is
    recorded (a queued training tells its requester which version it became).
    """
    task = Task(task)
    fail_abandoned_trainings(project)
    parent = _parent(project, from_version, task)
    with tempfile.TemporaryDirectory(prefix="truthloop-train-") as folder:
        scratch = Path(folder)
        init_from = fetch_artifact(project, parent, scratch / "parent") if parent else None
        backend = _backend(task, epochs, model, parent, init_from)
        if backbone is not None and model is None:
            backend = fresh_like(backend, backbone=check_backbone(backbone))
        data = training_set(
            project, task, dataset, test_dataset=test_dataset, min_images=backend.min_images,
            test_share=test_share,
        )
        return _fit_recorded(
            project, model_project, backend, parent, data, dataset=dataset,
            test_dataset=test_dataset, init_from=init_from, scratch=scratch, progress=progress,
            on_recorded=on_recorded,
        ).version


@dataclass(frozen=True, slots=True)
class TrainedVersion:
    """A version just trained, and its model as `fit` left it (not read back from the
    artifact)."""

    version: ModelVersion
    model: ModelBackend


def train_records(
    project: Project,
    model_project: str,
    records: Sequence[ImageRecord],
    *,
    task: Task | str,
    labels: Sequence[str],
    dataset: str,
    from_version: str | None = None,
    epochs: int | None = None,
    model: ModelBackend | None = None,
    about: Mapping[str, Any] | None = None,
) -> TrainedVersion:
    """Train the next version of `model_project` on `records` as given, every one of them
    (the model calibrates on a share it holds out), and record it TRAINING_COMPLETED without
    evaluating it: a caller that judges the model itself (automated labeling, on its own
    validation set) has no test set to give. `dataset` names where the records came from;
    `about` joins the training report (a job and its iteration, say). The model, starting
    weights, failures and the heartbeat are as for `train_version`."""
    task = Task(task)
    fail_abandoned_trainings(project)
    parent = _parent(project, from_version, task)
    with tempfile.TemporaryDirectory(prefix="truthloop-train-") as folder:
        scratch = Path(folder)
        init_from = fetch_artifact(project, parent, scratch / "parent") if parent else None
        backend = _backend(task, epochs, model, parent, init_from)
        check_training_set(records, task, labels, backend.min_images)
        data = TrainingSet(tuple(records), (), (), tuple(labels), test_source="")
        return _fit_recorded(
            project, model_project, backend, parent, data, dataset=dataset, test_dataset=None,
            init_from=init_from, scratch=scratch, evaluated=False, about=about,
        )


def _parent(project: Project, name: str | None, task: Task) -> ModelVersion | None:
    parent = get_version(project, name) if name is not None else None
    if parent is not None and parent.task is not task:
        raise ModelError(
            f"cannot train a {task.value} model from {parent.name}, a {parent.task.value} model"
        )
    return parent


def _fit_recorded(
    project: Project,
    model_project: str,
    backend: ModelBackend,
    parent: ModelVersion | None,
    data: TrainingSet,
    *,
    dataset: str,
    test_dataset: str | None,
    init_from: Path | None,
    scratch: Path,
    progress: ProgressCallback | None = None,
    evaluated: bool = True,
    about: Mapping[str, Any] | None = None,
    on_recorded: Callable[[str], None] | None = None,
) -> TrainedVersion:
    """Record the version TRAINING_IN_PROGRESS, fit `backend` on `data` under a heartbeat,
    write its artifact under the version's name, evaluate it on `data.test` (when
    `evaluated`) and mark it TRAINING_COMPLETED; or TRAINING_FAILED, with why."""
    name = _record_version(project, model_project, backend, parent, dataset, test_dataset, data)
    with Heartbeat(project, name):
        try:
            if on_recorded:
                on_recorded(name)
            started = time.perf_counter()
            backend.fit(
                data.train,
                project.load_image,
                labels=data.labels,
                validation=data.validation,
                init_from=init_from,
                progress=progress,
            )
            uri = save_artifact(project, backend, artifact_key(model_project, name), scratch)
            report = backend.report_
            evaluation = None
            if evaluated:
                if progress:
                    progress(
                        TrainProgress(
                            "evaluate", report.epochs, report.epochs, 0, 0, report.final_loss
                        )
                    )
                evaluation = evaluate(backend, data.test, project.load_image)
            summary = {**_report_json(report, evaluation, data, started), **(about or {})}
            return TrainedVersion(_complete(project, name, uri, evaluation, summary), backend)
        except BaseException as error:
            _fail(project, name, f"{type(error).__name__}: {error}")
            if not isinstance(error, Exception):
                raise
            raise ModelError(
                f"training {name} failed ({type(error).__name__}: {error}); it is marked"
                " TRAINING_FAILED and earlier versions are untouched"
            ) from error


def _backend(
    task: Task,
    epochs: int | None,
    model: ModelBackend | None,
    parent: ModelVersion | None,
    init_from: Path | None,
) -> ModelBackend:
    if model is None and parent is not None and init_from is not None:
        # Same hyper-parameters as the parent, so its weights fit the new net.
        model = fresh_like(backend_class(parent.backend).load(init_from))
    if model is None:
        return default_backend(task, epochs)
    if model.task is not task:
        raise ModelError(f"the model given does {model.task.value}, not {task.value}")
    return model if epochs is None else fresh_like(model, epochs=epochs)


def _record_version(
    project: Project,
    model_project: str,
    backend: ModelBackend,
    parent: ModelVersion | None,
    dataset: str,
    test_dataset: str | None,
    data: TrainingSet,
) -> str:
    fields: dict[str, Any] = {
        "task": backend.task.value,
        "backend": backend_kind(backend),
        "params": params_json(backend),
        "training_dataset": dataset,
        "test_dataset": test_dataset,
        "labels": list(data.labels),
        "trainer": this_trainer(),
    }

    # Another trainer may take the same number at the same moment (PostgreSQL): take the next.
    @retry(retry=retry_if_exception_type(IntegrityError), stop=stop_after_attempt(3), reraise=True)
    def add() -> str:
        with project.db.session(immediate=True) as session:
            return add_version(session, model_project, parent=parent, **fields).name

    return add()


def _report_json(
    report: TrainReport, evaluation: Evaluation | None, data: TrainingSet, started: float
) -> dict[str, Any]:
    trained = {
        "images": report.images,
        "calibration_images": report.calibration_images,
        "skipped": [{"uri": s.uri, "reason": s.reason} for s in report.skipped],
        "epochs": report.epochs,
        "training_seconds": report.seconds,
        "seconds": time.perf_counter() - started,
        "final_loss": report.final_loss,
        "ece_before": report.ece_before,
        "ece_after": report.ece_after,
    }
    if evaluation is None:
        return trained
    return {
        **trained,
        "test_images": evaluation.testing_images,
        "test_skipped": [{"uri": s.uri, "reason": s.reason} for s in evaluation.skipped],
        "test": data.test_source,
        "test_share": data.test_share,
    }


def _complete(
    project: Project, name: str, uri: str, evaluation: Evaluation | None, report: dict[str, Any]
) -> ModelVersion:
    with project.session() as session:
        row = version_row(session, name)
        now = utcnow()
        row.status = VersionStatus.TRAINING_COMPLETED.value
        row.artifact_uri = uri
        row.metrics = evaluation.to_json() if evaluation is not None else None
        row.training_report = report
        row.training_ended_at = row.updated_at = now
        session.flush()
        return find_version(session, name)


def _fail(project: Project, name: str, reason: str) -> None:
    try:
        with project.session() as session:
            row = version_row(session, name)
            row.status = VersionStatus.TRAINING_FAILED.value
            row.failure_reason = reason[:4000]
            row.training_ended_at = row.updated_at = utcnow()
    except Exception:
        # The training error is the one to report; with its heartbeat stopped, the version
        # is found abandoned (and marked failed) by the next listing.
        return


# ---- using trained versions ----------------------------------------------------------------


def trained_model(project: Project, name: str) -> tuple[ModelVersion, ModelBackend]:
    """The version and its model: the one this process serves when it is started here, else
    read from the artifact."""
    version = get_version(project, name)
    return version, served_model(project, version) or load_model(project, version)


def version_test_records(project: Project, version: ModelVersion) -> list[ImageRecord]:
    """The images the version was tested on when it was trained (read again from storage)."""
    if version.test_dataset is not None:
        return read_dataset(project, version.test_dataset)[0]
    records, _ = read_dataset(project, version.training_dataset)
    return [e.record for e in held_out_by(version, records)]


def held_out_by(version: ModelVersion, records: Sequence[ImageRecord]) -> list[Example]:
    """The examples among its training dataset's `records` that `version` held out to test
    on, with the share it held out (its training report says which)."""
    share = (version.training_report or {}).get("test_share", HOLD_OUT_SHARE)
    return test_split(records, version.task, version.training_dataset, share)[1]


def evaluate_version(project: Project, version: str, dataset: str | None = None) -> Evaluation:
    """Score `version` on the stored dataset `dataset` (default: its own test set)."""
    found, model = trained_model(project, version)
    records = (
        read_dataset(project, dataset)[0]
        if dataset is not None
        else version_test_records(project, found)
    )
    return evaluate(model, records, project.load_image)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two versions evaluated on the same test set."""

    dataset: str
    versions: tuple[ModelVersion, ModelVersion]
    evaluations: tuple[Evaluation, Evaluation]

    def rows(self) -> list[tuple[str, float | None, float | None]]:
        """(metric, first version's value, second's): overall metrics, then per label F1,
        precision and recall (None where a version has no value)."""
        first, second = self.evaluations
        names = ["f1", "precision", "recall"]
        if first.task is Task.DETECTION:
            names += ["map50", "map"]
        rows = [(name, getattr(first, name), getattr(second, name)) for name in names]
        per = [{m.label: m for m in e.per_label} for e in self.evaluations]
        for label in sorted(per[0].keys() | per[1].keys()):
            for metric in ("f1", "precision", "recall"):
                a, b = (getattr(p[label], metric) if label in p else None for p in per)
                rows.append((f"{label} {metric}", a, b))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "versions": [
                {"version": v.name, **e.to_json()}
                for v, e in zip(self.versions, self.evaluations, strict=True)
            ],
            "rows": [{"metric": m, "values": [a, b]} for m, a, b in self.rows()],
        }


def compare_versions(project: Project, first: str, second: str, dataset: str) -> Comparison:
    """Evaluate two versions of the same task on the stored dataset `dataset`, side by side."""
    a, model_a = trained_model(project, first)
    b, model_b = trained_model(project, second)
    if a.task is not b.task:
        raise ModelError(
            f"cannot compare {a.name} ({a.task.value}) with {b.name} ({b.task.value}):"
            " they do different tasks"
        )
    records, _ = read_dataset(project, dataset)
    return Comparison(
        dataset,
        (a, b),
        (
            evaluate(model_a, records, project.load_image),
            evaluate(model_b, records, project.load_image),
        ),
    )


@dataclass(frozen=True, slots=True)
class ItemPrediction:
    """A model's answer for one dataset item, or why its image could not be read."""

    item_id: int
    uri: str
    value: Value | None
    error: str | None = None


def predict_dataset(
    project: Project,
    version: str,
    dataset: str,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ItemPrediction]:
    """The version's prediction for every item of `dataset`, in item order, `PREDICT_BATCH`
    images at a time; `progress(done)` after each batch. Any trained version works, started or
    not: batch prediction does not go through the served model's status."""
    _, model = trained_model(project, version)
    with project.session() as session:
        dataset_id = store.get_dataset(session, dataset).id
        items = [
            (item_id, record.uri) for item_id, record in store.iter_records(session, dataset_id)
        ]
    yield from predict_items(project, model, items, progress=progress)


def predict_items(
    project: Project,
    model: ModelBackend,
    items: Sequence[tuple[int, str]],
    *,
    batch_size: int = PREDICT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ItemPrediction]:
    """The model's prediction for each (item id, image URI), in order, `batch_size` images at
    a time; an image that cannot be read gets no value and the reason. `progress(done)` after
    each batch."""
    done = 0
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        images: dict[int, Image.Image] = {}
        failed: dict[int, str] = {}
        for item_id, uri in batch:
            try:
                images[item_id] = project.load_image(uri)
            except UNREADABLE as error:
                failed[item_id] = str(error) or type(error).__name__
        values = (
            dict(zip(images, model.predict(list(images.values())), strict=True)) if images else {}
        )
        for item_id, uri in batch:
            yield ItemPrediction(item_id, uri, values.get(item_id), failed.get(item_id))
        done += len(batch)
        if progress:
            progress(done)


def export_version(project: Project, version: str, fmt: str, dest: Path | str) -> Path:
    """Write the version's model to `dest` in format `fmt` (only "onnx" for now)."""
    if fmt != "onnx":
        raise InputError(f"cannot export to {fmt!r}: the one export format is onnx")
    _, model = trained_model(project, version)
    path = Path(dest)
    model.export_onnx(path)
    return path
