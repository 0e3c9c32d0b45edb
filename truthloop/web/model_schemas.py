"""What the REST API takes and gives for model versions and detect calls.

A detect request is either `multipart/form-data` with the image file in the field `image` (and
optional `min_confidence`, `max_results` fields), or JSON `{"image": "<base64>",
"min_confidence": 70, "max_results": 5}`. The answer is Rekognition's DetectCustomLabels shape.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from truthloop.errors import InputError
from truthloop.ml.versions import ModelVersion

IMAGE_FIELD = "image"


class ModelVersionPublic(BaseModel):
    version: str
    project: str
    number: int
    task: str
    status: str
    parent: str | None
    training_dataset: str
    test_dataset: str | None
    labels: list[str]
    f1: float | None
    metrics: dict[str, Any] | None = Field(description="The evaluation summary on the test set.")
    training_report: dict[str, Any] | None
    failure_reason: str | None
    created_at: datetime
    training_ended_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, version: ModelVersion) -> ModelVersionPublic:
        data = version.to_json()
        return cls.model_validate({**data, "f1": version.f1})


class DetectOptions(BaseModel):
    min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="0-100; omitted: each label's assumed threshold; 0: every label.",
    )
    max_results: int | None = Field(default=None, ge=1, description="Keep the top N.")


class DetectJson(DetectOptions):
    image: str = Field(description="The image file's bytes, base64-encoded.")


# Field names are Rekognition's; the classes carry another name so they do not shadow them.
class RatioBox(BaseModel):
    Width: float
    Height: float
    Left: float
    Top: float


class LabelGeometry(BaseModel):
    BoundingBox: RatioBox


class CustomLabel(BaseModel):
    Name: str
    Confidence: float = Field(description="0-100.")
    Geometry: LabelGeometry | None = Field(default=None, description="Detection models only.")


class HumanLoopActivation(BaseModel):
    """A human loop a detect call started (DetectModerationLabels' HumanLoopActivationOutput)."""

    HumanLoopArn: str
    HumanLoopName: str
    FlowDefinitionName: str
    HumanLoopActivationReasons: list[str]
    HumanLoopActivationConditionsEvaluationResults: str = Field(
        description="Every activation condition with its EvaluationResult, as JSON text."
    )


class DetectResponse(BaseModel):
    CustomLabels: list[CustomLabel]
    HumanLoopActivationOutput: HumanLoopActivation | list[HumanLoopActivation] | None = Field(
        default=None,
        description="Present when a review flow attached to the version started a human loop"
        " (a list when several did).",
    )


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()
    )


async def detect_input(request: Request) -> tuple[bytes, DetectOptions]:
    """The image bytes and options of a detect request, or an InputError saying what is wrong."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get(IMAGE_FIELD)
            if not isinstance(upload, UploadFile):
                raise InputError(f"send the image file in the multipart field {IMAGE_FIELD!r}")
            fields = {k: form.get(k) for k in ("min_confidence", "max_results") if form.get(k)}
            return await upload.read(), DetectOptions.model_validate(fields)
        if content_type.startswith("application/json"):
            body = DetectJson.model_validate_json(await request.body())
            try:
                data = base64.b64decode(body.image, validate=True)
            except (binascii.Error, ValueError):
                raise InputError("the JSON field 'image' is not valid base64") from None
            return data, body
    except ValidationError as error:
        raise InputError(f"the detect request is not valid: {_problems(error)}") from None
    raise InputError(
        f"send the image as multipart/form-data (file field {IMAGE_FIELD!r}) or as JSON"
        ' {"image": "<base64>"}'
    )
