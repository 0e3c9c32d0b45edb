"""Serving model versions: start (load into this process) and stop, and detect, answering in
Rekognition's DetectCustomLabels shape (FORMATS.md §3.3).

    start_version(project, "logos.v2")
    detect(project, "logos.v2", [image], min_confidence=70)
    # [{"CustomLabels": [{"Name": "acme", "Confidence": 97.1,
    #                     "Geometry": {"BoundingBox": {"Width": 0.2, "Height": 0.3,
    #                                                  "Left": 0.1, "Top": 0.4}}}]}]

RUNNING is a status in the database, so every process agrees on it: each detect reads it, and a
version another process stopped is refused here too. A version that is RUNNING but not loaded
in this process (after a restart, or in a one-off CLI call) is loaded on first use. Models are
cached whole and swapped under a lock, and a detect keeps the model it took: a detect during a
start or stop either finds the version not running or runs on a complete model, never on half
of one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from truthloop.core.geometry import clip, to_ratios
from truthloop.core.pipeline_params import MINIMUM_INFERENCE_UNITS
from truthloop.core.types import Box, Boxes, Classification, ImageSize, MultiLabel, Value
from truthloop.errors import InputError, ModelError, ModelNotRunning
from truthloop.formats.images import decode
from truthloop.ml.backend import ModelBackend
from truthloop.ml.versions import (
    DEFAULT_THRESHOLD,
    ModelVersion,
    VersionStatus,
    find_version,
    load_model,
    version_row,
)
from truthloop.storage.project import Project
from truthloop.storage.tables import utcnow

# What reading an image can raise when the file, not the code, is bad.
UNREADABLE = (InputError, OSError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True, slots=True)
class Served:
    version: ModelVersion
    model: ModelBackend


_lock = threading.Lock()
_served: dict[tuple[str, str], Served] = {}


def _key(project: Project, name: str) -> tuple[str, str]:
    return (project.db.url, name)


def served_model(project: Project, version: ModelVersion) -> ModelBackend | None:
    """The model this process serves for `version`, if it has loaded it."""
    with _lock:
        found = _served.get(_key(project, version.name))
    return found.model if found else None


def _set_status(
    project: Project, name: str, status: VersionStatus, inference_units: int | None = None
) -> ModelVersion:
    with project.session() as session:
        row = version_row(session, name)
        row.status = status.value
        row.updated_at = utcnow()
        if inference_units is not None:
            row.inference_units = inference_units
        session.flush()
        return find_version(session, name)


def _version(project: Project, name: str) -> ModelVersion:
    with project.session() as session:
        return find_version(session, name)


MIN_UNITS = int(MINIMUM_INFERENCE_UNITS.low or 1)
MAX_UNITS = int(MINIMUM_INFERENCE_UNITS.high or MIN_UNITS)
"""The inference units a version may be started with: the pipeline parameter's range."""


def start_version(project: Project, name: str, inference_units: int = MIN_UNITS) -> ModelVersion:
    """Load the version's model into this process and mark it RUNNING (again, if it was),
    recording the inference units asked for. Serving has no units of its own (every process
    that detects loads a running version), so the number is kept and shown, not acted on."""
    if not MIN_UNITS <= inference_units <= MAX_UNITS:
        raise InputError(
            f"inference_units is {inference_units}; it must be from {MIN_UNITS} to {MAX_UNITS}"
        )
    version = _version(project, name)
    if not version.status.trained:
        raise ModelError(f"model version {name} cannot be started: {_state(version)}")
    served = Served(version, load_model(project, version))
    key = _key(project, name)
    with _lock:
        _served[key] = served
    try:
        return _set_status(project, name, VersionStatus.RUNNING, inference_units)
    except BaseException:
        with _lock:
            _served.pop(key, None)
        raise


def stop_version(project: Project, name: str) -> ModelVersion:
    """Mark the version STOPPED and unload it here; a version that is not running stays as is."""
    version = _version(project, name)
    if version.status is VersionStatus.RUNNING:
        version = _set_status(project, name, VersionStatus.STOPPED)
    elif not version.status.trained:
        raise ModelError(f"model version {name} cannot be stopped: {_state(version)}")
    with _lock:
        _served.pop(_key(project, name), None)
    return version


def _state(version: ModelVersion) -> str:
    name = version.name
    start = f"start it with `truthloop model start {name}` (or POST /api/models/{name}/start)"
    match version.status:
        case VersionStatus.STOPPED:
            return f"it is stopped; {start}"
        case VersionStatus.TRAINING_COMPLETED:
            return f"it is trained but not started; {start}"
        case VersionStatus.TRAINING_IN_PROGRESS:
            return "it is still training"
        case VersionStatus.TRAINING_FAILED:
            return f"its training failed ({version.failure_reason}); train a new version"
    return f"it is {version.status}"


def running(project: Project, name: str) -> Served:
    """The served model of a RUNNING version (loaded here on first use), else ModelNotRunning."""
    key = _key(project, name)
    # Reading the status and taking the model under one lock: a stop that commits meanwhile
    # evicts after this, so a stopped version is never loaded back in.
    with _lock:
        version = _version(project, name)
        if version.status is not VersionStatus.RUNNING:
            _served.pop(key, None)
            raise ModelNotRunning(f"model version {name} is not running: {_state(version)}")
        served = _served.get(key)
        if served is None:
            served = _served[key] = Served(version, load_model(project, version))
    return served


def check_options(min_confidence: float | None, max_results: int | None) -> None:
    if min_confidence is not None and not 0 <= min_confidence <= 100:
        raise InputError(f"min_confidence is {min_confidence}; it must be from 0 to 100")
    if max_results is not None and max_results < 1:
        raise InputError(f"max_results is {max_results}; it must be 1 or more")


def detect(
    project: Project,
    version: str,
    images: Sequence[Image.Image],
    *,
    min_confidence: float | None = None,
    max_results: int | None = None,
) -> list[dict[str, Any]]:
    """One DetectCustomLabels answer per image from the RUNNING version `version`.

    `min_confidence` (0-100) keeps labels at or above it; omitted, each label must reach its
    assumed threshold from the version's evaluation; 0 keeps everything. `max_results` keeps
    the most confident ones.
    """
    check_options(min_confidence, max_results)
    values, served = predictions(project, version, images)
    thresholds = served.thresholds()
    return [
        custom_labels(value, image.size, thresholds, min_confidence, max_results)
        for value, image in zip(values, images, strict=True)
    ]


def predictions(
    project: Project, version: str, images: Sequence[Image.Image]
) -> tuple[list[Value], ModelVersion]:
    """The RUNNING version's prediction of each image, every label it found (review routing
    looks at all of them), and the version, whose per-label thresholds `custom_labels` applies."""
    served = running(project, version)
    return served.model.predict(list(images)), served.version


def _found(value: Value) -> list[tuple[str, float, Box | None]]:
    match value:
        case Classification(label=label, confidence=c):
            return [(label, 1.0 if c is None else c, None)]
        case MultiLabel(labels=labels, confidences=cs):
            confidences = cs or (None,) * len(labels)
            return [
                (n, 1.0 if c is None else c, None) for n, c in zip(labels, confidences, strict=True)
            ]
        case Boxes(boxes=boxes):
            return [(b.label, 1.0 if b.confidence is None else b.confidence, b) for b in boxes]
    raise ModelError(f"a model answered {value!r}, which detect cannot report")


def custom_labels(
    value: Value,
    size: tuple[int, int],
    thresholds: Mapping[str, float],
    min_confidence: float | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """A prediction for an image of `size` (width, height) as DetectCustomLabels reports it:
    confidences in percent, boxes as ratios of the image size, most confident first."""
    image = ImageSize(*size)
    kept: list[dict[str, Any]] = []
    for name, confidence, box in sorted(_found(value), key=lambda f: -f[1]):
        wanted = (
            confidence >= thresholds.get(name, DEFAULT_THRESHOLD)
            if min_confidence is None
            else confidence * 100 >= min_confidence
        )
        if not wanted:
            continue
        label: dict[str, Any] = {"Name": name, "Confidence": confidence * 100}
        if box is not None:
            inside = clip(box, image)
            if inside is None:
                continue
            left, top, width, height = to_ratios(inside, image)
            label["Geometry"] = {
                "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top}
            }
        kept.append(label)
    return {"CustomLabels": kept[:max_results] if max_results is not None else kept}


def decode_image(data: bytes, *, where: str, max_bytes: int, max_pixels: int) -> Image.Image:
    """The RGB image in `data`, or an ImageError naming `where` (a file, an upload field):
    empty, too big, too many pixels, not an image, or corrupt."""
    return decode(data, max_pixels=max_pixels, max_bytes=max_bytes, name=where)
