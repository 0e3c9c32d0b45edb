"""REST API: import a dataset from an uploaded file or a path on the server (managers only).

`POST /api/datasets/{name}/import` takes either
- the file itself as the request body (any content type but JSON), streamed to
  `<home>/uploads/<uuid>/` and never held in memory, its options in the query string:
  `format` (required), `filename`, `label_attribute`, `on_error`, `labels` (comma-separated),
  `split`, `image_root`, `background`, `copy`, `verify_images`. A zip (the portal packs many
  files into one) is unpacked and its images copied into the blob store; `annotations` names
  its annotation file when it holds more than one (datasets/uploads.py); or
- JSON `{"path": ..., "format": ..., <the same options>}` naming a file or folder on the
  server inside the allowed roots, or an `s3://bucket/prefix` inside the allowed S3 prefixes
  (format folders: its first-level folders are the labels).
A source under INLINE_MAX_BYTES is imported during the request (201, the import's report); a
larger one, or any with `background`, `copy` or `verify_images` (they open every image), is
queued for the background worker (202, its id and the URL that reports its progress, with each
refusal by line). Either way it is one transaction with the CLI's refusals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from truthloop.datasets import queued, uploads
from truthloop.datasets.importing import check_dataset_name
from truthloop.errors import InputError
from truthloop.storage.project import Project
from truthloop.web.deps import ProjectDep, RequireManager, SessionDep
from truthloop.web.import_schemas import ImportPublic, ImportQueued

router = APIRouter(prefix="/api", tags=["imports"])

# Sources up to this size import during the request; larger ones go to the background worker.
INLINE_MAX_BYTES = 64 * 1024 * 1024
JSON_MAX_BYTES = 64 * 1024
# The path BodyLimit holds to TRUTHLOOP_MAX_UPLOAD_BYTES rather than the request limit.
UPLOAD_PATH = r"/api/datasets/[^/]+/import"


@router.post("/datasets/{name}/import", response_model=None)
async def import_dataset(
    request: Request,
    project: ProjectDep,
    user: RequireManager,
    name: str,
    format: Annotated[str | None, Query()] = None,
    filename: str | None = None,
    label_attribute: str | None = None,
    on_error: str | None = None,
    labels: str | None = None,
    split: str | None = None,
    image_root: str | None = None,
    background: bool = False,
    copy: bool = False,
    verify_images: bool = False,
    annotations: str | None = None,
) -> JSONResponse:
    check_dataset_name(name)
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await _small_body(request)
        options = dict(body)
        path = options.pop("path", None)
        fmt = options.pop("format", None)
        background = bool(options.pop("background", background))
        if not isinstance(path, str):
            raise InputError('give the source as "path", a path on the server or an s3:// prefix')
        upload = False
        source: Path | str = queued.import_source(project, path)
    else:
        fmt = format
        options = {
            "label_attribute": label_attribute, "on_error": on_error, "split": split,
            "image_root": image_root,
            "labels": labels or None,
            "copy": copy or None, "verify_images": verify_images or None,
        }
        upload = True
    if not isinstance(fmt, str):
        raise InputError("say the source's format (format=groundtruth, coco, ...)")
    queued.check_format(fmt)
    options = queued.check_options(project, options)
    background = background or queued.needs_queue(options)
    if upload:
        source = await _receive(request, project, filename, fmt)
    try:
        if upload and isinstance(source, Path) and uploads.is_zip(source):
            source = await run_in_threadpool(_unpacked, project, source, fmt, annotations)
            # Its images lie in the upload folder, removed once imported: they are copied into
            # the blob store, which opens each, so it is queued.
            options["copy"] = background = True
        elif annotations:
            raise InputError("annotations names the annotation file inside an uploaded zip")
        # A folder or an s3:// prefix imports during the request, as a small file does.
        size = source.stat().st_size if isinstance(source, Path) and source.is_file() else 0
        if background or size > INLINE_MAX_BYTES:
            import_id = queued.queue_import(
                project, name, source, fmt, options, upload=upload, created_by=user.id
            )
            url = f"/api/imports/{import_id}"
            answer = ImportQueued(id=import_id, status=queued.QUEUED, url=url)
            return JSONResponse(answer.model_dump(), status_code=202, headers={"Location": url})
        report = await run_in_threadpool(queued.import_now, project, name, source, fmt, options)
    except BaseException:
        if upload and isinstance(source, Path):
            queued.remove_upload(project, source)  # not queued: the client still has it
        raise
    if upload and isinstance(source, Path):
        queued.remove_upload(project, source)
    return JSONResponse(report.to_json(), status_code=201)


@router.get("/imports/{import_id}")
def import_status(
    project: ProjectDep, session: SessionDep, _: RequireManager, import_id: int
) -> ImportPublic:
    row = queued.get_import(session, import_id)
    return ImportPublic.of(row, queued.lines_read(project, row))


async def _small_body(request: Request) -> dict[str, Any]:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > JSON_MAX_BYTES:
            raise InputError(f"the JSON request is over {JSON_MAX_BYTES} bytes")
    try:
        body = orjson.loads(bytes(data))
    except orjson.JSONDecodeError as error:
        raise InputError(f"the request is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise InputError("the request must be a JSON object")
    return body


async def _receive(request: Request, project: Project, filename: str | None, fmt: str) -> Path:
    """The request body, written to a new upload folder chunk by chunk; nothing of it is left
    behind if the upload breaks off or runs over TRUTHLOOP_MAX_UPLOAD_BYTES."""
    dest = queued.upload_folder(project) / queued.upload_name(filename, fmt)
    try:
        with dest.open("wb", buffering=1 << 20) as out:
            async for chunk in request.stream():
                # On a worker thread: a disk that stalls must not stall every other request.
                await run_in_threadpool(out.write, chunk)
    except BaseException:
        queued.remove_upload(project, dest)
        raise
    return dest


def _unpacked(project: Project, archive: Path, fmt: str, annotations: str | None) -> Path:
    folder = uploads.unpack(archive, project.settings.max_upload_bytes)
    return uploads.pick_source(folder, fmt, annotations)
