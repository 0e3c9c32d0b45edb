"""Detect with review: a RUNNING model version's predictions, and a human loop for each one
that meets the activation conditions of a flow the version is attached to.

This is what A2I's seeds do by hand (start a loop when the top score is below 0.5, and audit a
random share of the rest), done by truthloop on every detect call: `truthloop model detect`,
`POST /api/models/{version}/detect` and `truthloop.detect` all come here. Each answer carries
`HumanLoopActivationOutput` in the shape Rekognition's DetectModerationLabels gives it (the
loop's ARN, why it started, every condition's result) when a flow looked at the prediction.

The conditions see every label the model found, not only those the answer keeps after its
thresholds: "the top confidence is below 50" must see the label at 30 that the answer drops.
The image is copied into the blob store (`review/<flow>/<sha256>.<ext>`), so the loop does not
depend on the caller's file staying where it was. The loop's name is made from the flow, the
version and the image's content: a retried detect of the same image finds the loop it started,
and Sampling, keyed on the same request, decides the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from PIL import Image
from sqlalchemy import select

from truthloop.core.activation import evaluate, parse_conditions
from truthloop.core.geometry import clip
from truthloop.core.types import Boxes, Classification, ImageSize, MultiLabel, Value
from truthloop.formats.a2i import human_loop_arn
from truthloop.formats.images import probe
from truthloop.ml import serving
from truthloop.ml.versions import ModelVersion
from truthloop.review.flows import FlowStatus
from truthloop.review.loops import LoopStart, start_loop
from truthloop.storage.project import Project
from truthloop.storage.tables import FlowDefinitionRow


@dataclass(frozen=True)
class DetectImage:
    """An image to detect on: decoded, with the bytes it came as (what a loop shows)."""

    image: Image.Image
    data: bytes


def detect(
    project: Project,
    version: str,
    images: Sequence[DetectImage | Image.Image],
    *,
    min_confidence: float | None = None,
    max_results: int | None = None,
    created_by: int | None = None,
) -> list[dict[str, Any]]:
    """DetectCustomLabels answers from `version`, each with `HumanLoopActivationOutput` when a
    flow attached to the version looked at it (see the module docstring)."""
    serving.check_options(min_confidence, max_results)
    pictures = [i.image if isinstance(i, DetectImage) else i for i in images]
    values, served = serving.predictions(project, version, pictures)
    thresholds = served.thresholds()
    answers = [
        serving.custom_labels(value, picture.size, thresholds, min_confidence, max_results)
        for value, picture in zip(values, pictures, strict=True)
    ]
    flows = attached_flows(project, version)
    if flows:
        for answer, value, given in zip(answers, values, images, strict=True):
            image = given if isinstance(given, DetectImage) else _encoded(given)
            outputs = [
                route(project, flow, served, value, image, created_by=created_by)
                for flow in flows
            ]
            started = [o for o in outputs if o is not None]
            if started:
                answer["HumanLoopActivationOutput"] = started[0] if len(started) == 1 else started
    return answers


def _encoded(image: Image.Image) -> DetectImage:
    """An image given decoded, as the PNG a loop will show."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return DetectImage(image, buffer.getvalue())


def attached_flows(project: Project, version: str) -> list[FlowDefinitionRow]:
    with project.session() as session:
        flows = session.scalars(
            select(FlowDefinitionRow)
            .where(
                FlowDefinitionRow.model_version == version,
                FlowDefinitionRow.status == FlowStatus.ACTIVE,
            )
            .order_by(FlowDefinitionRow.id)
        ).all()
        for flow in flows:
            session.expunge(flow)
        return list(flows)


def route(
    project: Project,
    flow: FlowDefinitionRow,
    served: ModelVersion,
    value: Value,
    image: DetectImage,
    *,
    created_by: int | None = None,
) -> dict[str, Any] | None:
    """Evaluate the flow's conditions on one prediction of the `served` version and start a
    loop when they hold; DetectModerationLabels' `HumanLoopActivationOutput`, or None when
    no loop started."""
    version = served.name
    digest = hashlib.sha256(image.data).hexdigest()
    request_key = f"{version}\x00{digest}"
    evaluation = evaluate(parse_conditions(flow.conditions), value, request_key)
    if not evaluation.activated:
        return None
    uri = _store_image(project, flow.name, digest, image)
    name = loop_name(flow.name, version, digest)
    content = loop_input(
        uri, version, value, image.image.size, served.labels, served.thresholds()
    )
    start = LoopStart(
        name=name,
        flow=flow.name,
        input_content=orjson.dumps(content).decode(),
        activation=evaluation.results,
    )
    start_loop(project, start, created_by=created_by)
    return {
        "HumanLoopArn": human_loop_arn(name),
        "HumanLoopName": name,
        "FlowDefinitionName": flow.name,
        "HumanLoopActivationReasons": activation_reasons(evaluation.results),
        "HumanLoopActivationConditionsEvaluationResults": json.dumps(evaluation.results),
    }


def loop_name(flow: str, version: str, digest: str) -> str:
    """A loop name for one image under one version: the flow's name (up to 30 characters),
    then a hash of the version and the image (A2I's rule: a-z, 0-9 and hyphens)."""
    key = hashlib.sha256(f"{version}\x00{digest}".encode()).hexdigest()[:24]
    return f"{flow[:30].rstrip('-')}-{key}"


def activation_reasons(results: dict[str, Any]) -> list[str]:
    """Why the loop started, in DetectModerationLabels' words: the conditions were met (or
    there were none, so every request is reviewed)."""
    if not results.get("Conditions"):
        return ["AlwaysReview"]
    return ["ConditionsEvaluation"]


def loop_input(
    uri: str,
    version: str | None,
    value: Value | None,
    size: tuple[int, int],
    labels: Sequence[str],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """A detect-started loop's input: the image, the model's labels, its whole prediction
    (every label it found) and, as `initialValue`, what detect would answer by default: the
    boxes (pixels, as crowd-bounding-box takes them) or labels that reach their thresholds.
    The reviewer starts from the model's answer, not from every faint candidate in it. With
    no model (`value` None) the prediction is empty and there is no initial value."""
    width, height = size
    prediction = (
        serving.custom_labels(value, size, {}, min_confidence=0)
        if value is not None
        else {"CustomLabels": []}
    )
    return {
        "taskObject": uri,
        "modelVersion": version,
        "labels": list(labels),
        "prediction": prediction,
        "topConfidence": max((c["Confidence"] for c in prediction["CustomLabels"]), default=0.0),
        "imageSize": {"width": width, "height": height},
        "initialValue": _initial_value(value, ImageSize(width, height), thresholds),
    }


def _kept(label: str, confidence: float | None, thresholds: Mapping[str, float]) -> bool:
    return confidence is None or confidence >= thresholds.get(label, serving.DEFAULT_THRESHOLD)


def _initial_value(
    value: Value | None, size: ImageSize, thresholds: Mapping[str, float]
) -> Any:
    match value:
        case Boxes(boxes=boxes):
            shown = [b for b in boxes if _kept(b.label, b.confidence, thresholds)]
            kept = [b for b in (clip(box, size) for box in shown) if b is not None]
            return [
                {
                    "label": b.label,
                    "left": round(b.left),
                    "top": round(b.top),
                    "width": max(round(b.width), 1),
                    "height": max(round(b.height), 1),
                }
                for b in kept
            ]
        case Classification(label=label):
            return label
        case MultiLabel(labels=labels, confidences=confidences):
            sure = confidences or (None,) * len(labels)
            return [n for n, c in zip(labels, sure, strict=True) if _kept(n, c, thresholds)]
    return None


def _store_image(project: Project, flow: str, digest: str, image: DetectImage) -> str:
    # The header only (the image was decoded under the same limits), for the file's extension.
    info = probe(
        image.data,
        max_pixels=project.settings.max_image_pixels,
        max_bytes=project.settings.max_image_bytes,
    )
    key = f"review/{flow}/{digest}.{info.format.lower()}"
    if not project.blobs.exists(key):
        project.blobs.put_bytes(key, image.data)
    return project.blobs.uri(key)
