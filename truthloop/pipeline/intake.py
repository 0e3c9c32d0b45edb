"""Intake: images a pipeline is given (an upload, `truthloop pipeline submit`, a watched folder
or `s3://` prefix) are detected by the deployed version, logged, and sent to human review when
the model is unsure (the seed's `ProcessImage` and `StartHumanLoop` states).

    submit(project, "logos", [Incoming("a.jpg", data)])   -> one Detected per image
    scan_intake(project, "logos")                          -> the intake's new images, detected

Each image is decoded under the project's limits, copied into the blob store by content
(`pipeline/<name>/<sha256>.<ext>`: the loop and the training set must not depend on the
caller's file staying where it was), detected by the version deployed at that moment, and
logged with what the seed's detection log holds. Below `Minimum-Label-Detection-Confidence`,
with `Enable-A2I-Workflow` on and a review flow, a human loop starts: classification offers
the model's classes and "None of the Above"; boxes start from the model's boxes. Without a
deployed version every image goes to review: that is how a pipeline with no model yet gathers
its first training set.

Blue/green: the deployed version is read for each image, and should it be stopped between that
read and the detection (a new version was deployed), the image is detected again by the new
one; so no detection fails during a switch and each is answered by one version.

The intake is listed whole and compared with the detection log (unique per pipeline and
object), so an object is detected once, and one that arrived while the worker was down is found
on the next scan. An unreadable object is logged with its error and not tried again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fsspec
import orjson
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from truthloop.core.pipeline_params import MINIMUM_CONFIDENCE, REVIEW
from truthloop.core.pipeline_policy import review_needed
from truthloop.core.types import Value
from truthloop.errors import InputError, ModelNotRunning, UnsafePath
from truthloop.formats.images import IMAGE_SUFFIXES, probe
from truthloop.formats.paths import allowed_s3_prefix, is_s3_source, resolve_local
from truthloop.labeling.jobs import db_time
from truthloop.ml import serving
from truthloop.ml.versions import DEFAULT_THRESHOLD, ModelVersion
from truthloop.pipeline.params import get_params
from truthloop.pipeline.pipelines import get_pipeline
from truthloop.pipeline.runs import RunKind, RunStatus, finish_run, start_run, step
from truthloop.review.loops import LoopStart, start_loop
from truthloop.review.routing import loop_input, loop_name
from truthloop.storage.blobs import storage_options
from truthloop.storage.datasets import get_dataset, label_set_of
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    PipelineDetectionRow,
    PipelineRow,
    PipelineRunRow,
)

log = logging.getLogger("truthloop.pipeline")

NONE_OF_THE_ABOVE = "None of the Above"
"""The reviewer's answer that the image shows none of the model's classes: it adds nothing to
the training set."""

MOST_PER_SCAN = 1000
"""The most intake objects one scan detects: a large drop is worked off over several ticks,
so one tick never holds the worker for hours."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """An image given to the pipeline: where it came from (a file name, an upload field, an
    intake URI) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Detected:
    """What became of one image: its detection's request id, the version that answered and
    what it found (DetectCustomLabels' `CustomLabels`), its top confidence, the loop it
    started, or the error that refused it (nothing else is set then)."""

    name: str
    request_id: str | None = None
    version: str | None = None
    labels: tuple[dict[str, Any], ...] = ()
    confidence: float | None = None
    loop: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Setting:
    """What routes one batch: the pipeline, its flow, and the parameters in force."""

    pipeline_id: int
    name: str
    task: str
    flow: str | None
    minimum: float
    review: bool
    fallback_labels: tuple[str, ...]


def submit(
    project: Project,
    name: str,
    images: Sequence[Incoming],
    *,
    source: str = "upload",
    created_by: int | None = None,
    now: datetime | None = None,
    on_each: Callable[[Detected], None] | None = None,
) -> list[Detected]:
    """Detect each image with the pipeline's deployed version, log it and start a review loop
    where the model is unsure; one `Detected` per image, in order (`on_each` hears of each as
    it is done). An image that cannot be read is refused on its own (its `error` says why);
    the others go on. The batch is recorded as one intake run."""
    setting = _setting(project, name)
    moment = db_time(now)
    with project.db.session() as session:
        run = start_run(
            session, setting.pipeline_id, RunKind.INTAKE, _run_input(images, source), now=now
        )
        run_id = run.id
    results = []
    for image in images:
        results.append(_detect_one(project, setting, image, source, None, created_by, moment))
        if on_each is not None:
            on_each(results[-1])
    _finish_intake(project, run_id, results, now)
    return results


def _run_input(images: Sequence[Incoming], source: str) -> dict[str, Any]:
    shown = [image.name for image in images[:20]]
    return {"source": source, "images": len(images), "names": shown}


def _finish_intake(
    project: Project, run_id: int, results: Sequence[Detected], now: datetime | None
) -> None:
    """Record the intake run's steps and end: what was detected, what went to review."""
    refused = [r for r in results if r.error is not None]
    loops = [r.loop for r in results if r.loop is not None]
    with project.db.session() as session:
        run = session.get_one(PipelineRunRow, run_id)
        with step(session, run, "detect", {"images": len(results)}, now=now) as detect:
            detect.output = {
                "detected": len(results) - len(refused),
                "refused": [{"image": r.name, "error": r.error} for r in refused[:20]],
                "versions": sorted({r.version for r in results if r.version}),
            }
        with step(session, run, "start-human-loops", {"unsure": len(loops)}, now=now) as routed:
            routed.output = {"loops": loops[:50], "started": len(loops)}
        status = (
            RunStatus.FAILED if refused and len(refused) == len(results) else RunStatus.SUCCEEDED
        )
        error = f"{len(refused)} of {len(results)} images refused" if refused else None
        finish_run(
            session,
            run,
            status,
            {"detected": len(results) - len(refused), "reviews": len(loops)},
            error if status is RunStatus.FAILED else None,
            now=now,
        )


def _setting(project: Project, name: str) -> _Setting:
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        params = get_params(session, pipeline)
        flow = session.get(FlowDefinitionRow, pipeline.flow_id) if pipeline.flow_id else None
        labels = label_set_of(session, get_dataset(session, pipeline.dataset)).names
        return _Setting(
            pipeline.id,
            pipeline.name,
            pipeline.task,
            flow.name if flow is not None else None,
            float(params[MINIMUM_CONFIDENCE.name]),
            bool(params[REVIEW.name]),
            tuple(labels),
        )


def _detect_one(
    project: Project,
    setting: _Setting,
    image: Incoming,
    source: str,
    intake_key: str | None,
    created_by: int | None,
    now: datetime,
) -> Detected:
    try:
        picture = serving.decode_image(
            image.data,
            where=image.name,
            max_bytes=project.settings.max_image_bytes,
            max_pixels=project.settings.max_image_pixels,
        )
    except serving.UNREADABLE as error:
        message = f"{image.name}: {error}" if image.name not in str(error) else str(error)
        if intake_key is not None:  # logged, so a scan does not try it again
            _log_refused(project, setting, image, intake_key, message, now)
        return Detected(image.name, error=message)
    digest = hashlib.sha256(image.data).hexdigest()
    uri = _store_image(project, setting.name, digest, image.data)
    value, served = _predict(project, setting.name, picture)
    labels = _custom_labels(value, picture, served)
    top = max((label["Confidence"] for label in labels), default=None)
    loop = None
    if setting.flow is not None and review_needed(
        confidence=top, minimum_confidence=setting.minimum, review_enabled=setting.review
    ):
        loop = _start_review(project, setting, uri, digest, value, picture, served, created_by)
    return _log_detection(
        project,
        setting,
        image.name,
        source,
        intake_key,
        uri,
        digest,
        served,
        labels,
        top,
        loop,
        now,
    )


def _predict(
    project: Project, name: str, picture: Image.Image
) -> tuple[Value | None, ModelVersion | None]:
    """The deployed version's prediction, read for this image; a version stopped since the read
    (a new one was deployed) gives way to the new one, once."""
    for _ in range(2):
        with project.session() as session:
            version = get_pipeline(session, name).deployed_version
        if version is None:
            return None, None
        try:
            values, served = serving.predictions(project, version, [picture])
            return values[0], served
        except ModelNotRunning:
            log.info(
                "pipeline %s: %s stopped during a detection; asking the new version", name, version
            )
    raise ModelNotRunning(
        f"pipeline {name!r}: its deployed version is not running; start it with"
        " `truthloop model start` or deploy another with `truthloop pipeline run`"
    )


def _custom_labels(
    value: Value | None, picture: Image.Image, served: ModelVersion | None
) -> list[dict[str, Any]]:
    """Every label the model found (the minimum confidence looks at the top one, whatever its
    threshold), in DetectCustomLabels' shape."""
    if value is None or served is None:
        return []
    return list(serving.custom_labels(value, picture.size, {}, min_confidence=0)["CustomLabels"])


def _start_review(
    project: Project,
    setting: _Setting,
    uri: str,
    digest: str,
    value: Value | None,
    picture: Image.Image,
    served: ModelVersion | None,
    created_by: int | None,
) -> str:
    flow = setting.flow
    assert flow is not None
    version = served.name if served is not None else "none"
    name = loop_name(flow, version, digest)
    content = review_input(uri, value, picture.size, served, setting.task, setting.fallback_labels)
    start = LoopStart(name=name, flow=flow, input_content=orjson.dumps(content).decode())
    start_loop(project, start, created_by=created_by)
    return name


def review_input(
    uri: str,
    value: Value | None,
    size: tuple[int, int],
    served: ModelVersion | None,
    task: str,
    fallback_labels: Sequence[str],
) -> dict[str, Any]:
    """A pipeline loop's input: as a detect-started loop's (`routing.loop_input`), with the
    classes the reviewer picks from: a classification's classes and "None of the Above"; for
    boxes, the model's labels. Without a model, the training dataset's labels."""
    labels = list(served.labels) if served is not None else list(fallback_labels)
    if served is None:
        content = loop_input(uri, None, None, size, labels, {})
    else:
        content = loop_input(uri, served.name, value, size, labels, _review_thresholds(served))
    if task == "classification":
        content["labels"] = [*labels, NONE_OF_THE_ABOVE]
    elif content["initialValue"] is None:  # no model: the reviewer draws every box
        content["initialValue"] = []
    return content


def _review_thresholds(served: ModelVersion) -> dict[str, float]:
    """The confidence a box needs to be shown to the reviewer: its label's assumed threshold,
    or even odds when that is higher. An image is reviewed because the model is unsure of it;
    a reviewer who starts from its likely boxes adjusts them rather than drawing all again."""
    return {label: min(t, DEFAULT_THRESHOLD) for label, t in served.thresholds().items()}


def _store_image(project: Project, name: str, digest: str, data: bytes) -> str:
    info = probe(
        data,
        max_pixels=project.settings.max_image_pixels,
        max_bytes=project.settings.max_image_bytes,
    )
    key = f"pipeline/{name}/{digest}.{info.format.lower()}"
    if not project.blobs.exists(key):
        project.blobs.put_bytes(key, data)
    return project.blobs.uri(key)


def _log_detection(
    project: Project,
    setting: _Setting,
    name: str,
    source: str,
    intake_key: str | None,
    uri: str,
    digest: str,
    served: ModelVersion | None,
    labels: list[dict[str, Any]],
    top: float | None,
    loop: str | None,
    now: datetime,
) -> Detected:
    version = served.name if served is not None else None
    row = _detection_row(
        setting,
        source,
        intake_key,
        uri,
        digest,
        now,
        version=version,
        labels=labels,
        confidence=top,
        loop_name=loop,
    )
    with project.db.session() as session:
        session.add(row)
    return Detected(name, row.request_id, version, tuple(labels), top, loop)


def _log_refused(
    project: Project, setting: _Setting, image: Incoming, key: str, message: str, now: datetime
) -> None:
    digest = hashlib.sha256(image.data).hexdigest()
    row = _detection_row(setting, "intake", key, key, digest, now, error=message[:4000])
    try:
        with project.db.session() as session:
            session.add(row)
    except IntegrityError:  # another scan logged it first
        return


def _detection_row(
    setting: _Setting,
    source: str,
    intake_key: str | None,
    uri: str,
    digest: str,
    now: datetime,
    **found: Any,
) -> PipelineDetectionRow:
    """A detection log row: where the image came from and the terms in force, with what the
    detection `found` (version, labels, confidence, loop) or the error that refused it."""
    return PipelineDetectionRow(
        pipeline_id=setting.pipeline_id,
        request_id=uuid.uuid4().hex,
        source=source,
        intake_key=intake_key,
        image_uri=uri,
        sha256=digest,
        minimum_confidence=setting.minimum,
        review_enabled=setting.review,
        sampled=False,
        created_at=now,
        **{"labels": [], **found},
    )


# ---- the watched intake ----------------------------------------------------------------------


def set_intake(project: Project, name: str, uri: str | None) -> PipelineRow:
    """Watch `uri` (a folder inside the project home or the allowed roots, or an `s3://`
    prefix) for new images; None stops watching. InputError for a location the pipeline may
    not read, or that cannot be listed."""
    checked = None if uri is None else check_intake(project, uri)
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        pipeline.intake_uri = checked
        session.flush()
        session.expunge(pipeline)
        return pipeline


def check_intake(project: Project, uri: str) -> str:
    """`uri` as the intake is stored: an `s3://` prefix inside the allowed S3 prefixes
    (without a trailing slash), or a local folder resolved inside the home or the allowed
    roots."""
    if not uri or any(c in uri for c in "\x00\r\n"):
        raise InputError(f"intake location {uri!r} is not a folder or an s3:// prefix")
    if is_s3_source(uri):
        # The same rule as a dataset imported from S3: only the prefixes a person allowed.
        try:
            return allowed_s3_prefix(uri, project.settings.allowed_s3_prefixes)
        except UnsafePath as error:
            raise InputError(f"intake location: {error}") from None
    try:
        folder = resolve_local(uri, base=project.home, allowed_roots=project.allowed_roots)
    except UnsafePath as error:
        raise InputError(f"intake location: {error}") from None
    if not folder.is_dir():
        raise InputError(f"intake location {str(folder)!r} is not a folder")
    return str(folder)


def _list_intake(project: Project, uri: str) -> list[str]:
    """Every image under the intake (by its suffix; anything else there is left alone), as
    URIs, in name order."""
    options = storage_options(uri, project.settings.s3_endpoint_url)
    fs, root = fsspec.core.url_to_fs(uri, **options)
    found = fs.find(root)
    prefix = "s3://" if uri.startswith("s3://") else ""
    return sorted(prefix + path for path in found if path.lower().endswith(tuple(IMAGE_SUFFIXES)))


def scan_intake(project: Project, name: str, *, now: datetime | None = None) -> list[Detected]:
    """Detect the intake's images not detected before (at most MOST_PER_SCAN), as one intake
    run; nothing when the pipeline watches no intake or nothing new is there."""
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        uri, pipeline_id = pipeline.intake_uri, pipeline.id
    if uri is None:
        return []
    listed = _list_intake(project, uri)
    with project.session() as session:
        seen = set(
            session.scalars(
                select(PipelineDetectionRow.intake_key).where(
                    PipelineDetectionRow.pipeline_id == pipeline_id,
                    PipelineDetectionRow.intake_key.is_not(None),
                )
            )
        )
    new = [key for key in listed if key not in seen][:MOST_PER_SCAN]
    if not new:
        return []
    return _detect_intake(project, name, new, now)


def _detect_intake(
    project: Project, name: str, keys: Sequence[str], now: datetime | None
) -> list[Detected]:
    setting = _setting(project, name)
    moment = db_time(now)
    options = storage_options(keys[0], project.settings.s3_endpoint_url)
    with project.db.session() as session:
        run = start_run(
            session,
            setting.pipeline_id,
            RunKind.INTAKE,
            {"source": "intake", "images": len(keys), "names": list(keys[:20])},
            now=now,
        )
        run_id = run.id
    results = []
    for key in keys:
        with fsspec.open(key, "rb", **options) as handle:
            data = handle.read(project.settings.max_image_bytes + 1)
        image = Incoming(key, data)
        try:
            results.append(_detect_one(project, setting, image, "intake", key, None, moment))
        except IntegrityError:  # another worker detected it meanwhile: it counts once
            continue
    _finish_intake(project, run_id, results, now)
    return results
