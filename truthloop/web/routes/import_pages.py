"""The manager's import page: a dataset brought in from the browser (files dropped or picked,
packed into one zip by the page) or from a path on the server, through the import API
(api_imports.py); `?import=<id>` follows a queued import, so a reload shows the same progress.

Its router comes before the manager's pages, whose `/datasets/{name}` would take `import`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from truthloop import formats
from truthloop.core.types import Split
from truthloop.datasets.uploads import FILE_FORMATS
from truthloop.formats.images import IMAGE_SUFFIXES
from truthloop.web.deps import RequireManager
from truthloop.web.templating import render

router = APIRouter(include_in_schema=False)
# How often the page asks how far a queued import got.
POLL_MS = 1000


@router.get("/datasets/import")
def import_page(
    request: Request,
    user: RequireManager,
    import_id: Annotated[int | None, Query(alias="import", ge=1)] = None,
) -> Response:
    return render(
        request,
        "dataset_import.html",
        user,
        formats=formats.READ_FORMATS,
        file_formats=sorted(FILE_FORMATS),
        image_suffixes=sorted(IMAGE_SUFFIXES),
        splits=[s.value for s in Split],
        import_id=import_id,
        poll_ms=POLL_MS,
    )
