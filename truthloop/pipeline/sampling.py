"""Sampling: on its schedule, every `Human-Sampling-Interval`-th detection since the last sample
gets an audit loop (the seed's Human Sampling loop), whatever its confidence, so that the
deployed version's accuracy is measured on what it is sure of too.

    sample(project, "logos") -> the detections audited

The detections counted are those a version answered (not refused ones), in the order they were
logged, after the last one a sampling tick counted up to (`PipelineRow.sampled_through`); the
ones after the last pick wait for the next tick (`core.pipeline_policy.samples_from`). An
audit loop is named apart from a review loop of the same image, so a detection can be both
reviewed and audited; its answer scores the version and never enters the training set
(accrual.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select

from truthloop.core.pipeline_params import AUTOMATIC_SAMPLING, SAMPLING_INTERVAL
from truthloop.core.pipeline_policy import samples_from
from truthloop.core.types import Box, Boxes, Classification, ImageSize, Value
from truthloop.formats.images import probe
from truthloop.ml.versions import find_version
from truthloop.pipeline.intake import review_input
from truthloop.pipeline.params import get_params
from truthloop.pipeline.pipelines import get_pipeline
from truthloop.pipeline.runs import RunKind, RunStatus, finish_run, start_run, step
from truthloop.review.loops import LoopStart, start_loop
from truthloop.review.routing import loop_name
from truthloop.storage.blobs import open_uri
from truthloop.storage.project import Project
from truthloop.storage.tables import FlowDefinitionRow, PipelineDetectionRow, PipelineRow


def sample(project: Project, name: str, *, now: datetime | None = None) -> list[str]:
    """Start an audit loop for each detection the interval picks; the loops started. Nothing
    when sampling is off, the pipeline has no review flow, or too few detections came in."""
    with project.session() as session:
        pipeline = get_pipeline(session, name)
        params = get_params(session, pipeline)
        if not params[AUTOMATIC_SAMPLING.name] or pipeline.flow_id is None:
            return []
        flow = session.get_one(FlowDefinitionRow, pipeline.flow_id).name
        interval = int(params[SAMPLING_INTERVAL.name])
        counted = list(
            session.scalars(
                select(PipelineDetectionRow.id)
                .where(
                    PipelineDetectionRow.pipeline_id == pipeline.id,
                    PipelineDetectionRow.id > pipeline.sampled_through,
                    PipelineDetectionRow.version.is_not(None),
                    PipelineDetectionRow.error.is_(None),
                )
                .order_by(PipelineDetectionRow.id)
            )
        )
        pipeline_id = pipeline.id
    picks = [counted[n - 1] for n in samples_from(range(1, len(counted) + 1), interval)]
    if not picks:
        return []
    loops = [_audit(project, flow, detection_id) for detection_id in picks]
    with project.db.session() as session:
        pipeline = get_pipeline(session, name)
        pipeline.sampled_through = max(pipeline.sampled_through, picks[-1])
        run = start_run(
            session,
            pipeline_id,
            RunKind.SAMPLING,
            {"detections": len(counted), "interval": interval},
            now=now,
        )
        with step(session, run, "start-audit-loops", {"picked": len(picks)}, now=now) as started:
            started.output = {"loops": loops}
        finish_run(session, run, RunStatus.SUCCEEDED, {"audits": len(loops)}, now=now)
    return loops


def _audit(project: Project, flow: str, detection_id: int) -> str:
    """Start the audit loop of one detection: the image, and the version's answer as the
    reviewer's starting point, as a review loop shows them."""
    with project.session() as session:
        detection = session.get_one(PipelineDetectionRow, detection_id)
        task = session.get_one(PipelineRow, detection.pipeline_id).task
        served = find_version(session, detection.version or "")
        uri, digest, labels = detection.image_uri, detection.sha256, detection.labels
    size = _image_size(project, uri)
    value = logged_value(labels, task, size)
    name = loop_name(flow, f"audit\x00{served.name}", digest)
    content = review_input(uri, value, (size.width, size.height), served, task, served.labels)
    start = LoopStart(name=name, flow=flow, input_content=orjson.dumps(content).decode())
    start_loop(project, start)
    with project.db.session() as session:
        detection = session.get_one(PipelineDetectionRow, detection_id)
        detection.sampled, detection.audit_loop = True, name
    return name


def _image_size(project: Project, uri: str) -> ImageSize:
    """The stored image's size, from its header."""
    with open_uri(uri, s3_endpoint_url=project.settings.s3_endpoint_url) as handle:
        return probe(
            handle.read(project.settings.max_image_bytes + 1),
            max_pixels=project.settings.max_image_pixels,
            max_bytes=project.settings.max_image_bytes,
        ).size


def logged_value(labels: Sequence[Mapping[str, Any]], task: str, size: ImageSize) -> Value | None:
    """A logged detection (DetectCustomLabels' labels, most confident first) as the model's
    prediction: its top class (None when it named none), or its boxes in pixels."""
    if task == "classification":
        if not labels:
            return None
        top = labels[0]
        return Classification(str(top["Name"]), float(top["Confidence"]) / 100)
    boxes = []
    for label in labels:
        ratio = label.get("Geometry", {}).get("BoundingBox")
        if ratio is None:
            continue
        boxes.append(
            Box(
                str(label["Name"]),
                ratio["Left"] * size.width,
                ratio["Top"] * size.height,
                ratio["Width"] * size.width,
                ratio["Height"] * size.height,
                float(label["Confidence"]) / 100,
            )
        )
    return Boxes(tuple(boxes))
