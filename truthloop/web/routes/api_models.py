"""REST API: model versions, starting and stopping them (managers), and detect.

`POST /api/models/{version}/detect` takes the image as a multipart upload or as base64 JSON
(see `truthloop.web.model_schemas`) and answers as Rekognition's DetectCustomLabels does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from truthloop.ml import registry, serving
from truthloop.review import routing
from truthloop.storage.project import Project
from truthloop.web.deps import CurrentUser, ProjectDep, RequireManager
from truthloop.web.model_schemas import (
    IMAGE_FIELD,
    DetectJson,
    DetectOptions,
    DetectResponse,
    ModelVersionPublic,
    detect_input,
)
from truthloop.web.training_schemas import StartRequest

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models")
def list_models(
    project: ProjectDep, _: CurrentUser, project_name: str | None = None
) -> list[ModelVersionPublic]:
    """Every model version (of one model project with `?project_name=`)."""
    return [ModelVersionPublic.of(v) for v in registry.list_versions(project, project_name)]


@router.get("/models/{version}")
def model(project: ProjectDep, _: CurrentUser, version: str) -> ModelVersionPublic:
    return ModelVersionPublic.of(registry.get_version(project, version))


@router.post("/models/{version}/start")
def start(
    project: ProjectDep, _: RequireManager, version: str, body: StartRequest | None = None
) -> ModelVersionPublic:
    """Start the version; `inference_units` is recorded and shown (serving loads the model in
    each web process that detects with it, so the number is not acted on yet)."""
    units = body.inference_units if body is not None else serving.MIN_UNITS
    return ModelVersionPublic.of(serving.start_version(project, version, units))


@router.post("/models/{version}/stop")
def stop(project: ProjectDep, _: RequireManager, version: str) -> ModelVersionPublic:
    return ModelVersionPublic.of(serving.stop_version(project, version))


@router.post(
    "/models/{version}/detect",
    response_model=DetectResponse,
    response_model_exclude_none=True,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [IMAGE_FIELD],
                        "properties": {
                            IMAGE_FIELD: {"type": "string", "format": "binary"},
                            **DetectOptions.model_json_schema()["properties"],
                        },
                    }
                },
                "application/json": {"schema": DetectJson.model_json_schema()},
            }
        }
    },
)
async def detect(
    request: Request, project: ProjectDep, user: CurrentUser, version: str
) -> DetectResponse:
    """Labels (and boxes) in one image from a RUNNING version; when a review flow is attached
    to the version and its conditions hold, a human loop starts and the answer says which."""
    data, options = await detect_input(request)
    # Decoding and inference are CPU work: off the event loop, so other requests go on.
    answer = await run_in_threadpool(_detect, project, version, data, options, user.id)
    return DetectResponse.model_validate(answer)


def _detect(
    project: Project, version: str, data: bytes, options: DetectOptions, user_id: int
) -> dict[str, Any]:
    image = serving.decode_image(
        data,
        where=f"the uploaded {IMAGE_FIELD}",
        max_bytes=project.settings.max_image_bytes,
        max_pixels=project.settings.max_image_pixels,
    )
    return routing.detect(
        project,
        version,
        [routing.DetectImage(image, data)],
        min_confidence=options.min_confidence,
        max_results=options.max_results,
        created_by=user_id,
    )[0]
