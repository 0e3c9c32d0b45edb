"""Image bytes as HTTP responses: the original as it is, or a JPEG thumbnail when a size is
asked for; both under the project's image limits."""

from __future__ import annotations

import io

from fastapi.responses import Response

from truthloop.formats.images import probe
from truthloop.storage.project import Project

# Every accepted format (formats.images.FORMATS) is one every browser shows, so an original
# goes out as its own bytes, never re-encoded.
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
}
CACHE = "private, max-age=3600"


def image_response(
    project: Project, uri: str, *, name: str, max_side: int | None = None
) -> Response:
    """The image at `uri`, or with `max_side` a JPEG thumbnail of it, under the project's image
    limits. Errors name the image `name` ("item 12", "task 7"), never its path on the server.

    The original is sent as it is, yet its header is checked against the pixel limit first:
    the browser that shows it (the annotator, a review) would decode it whole.
    """
    if max_side is not None:
        out = io.BytesIO()
        project.load_image(uri, fit=max_side, name=name).save(out, "JPEG", quality=82)
        return Response(out.getvalue(), media_type="image/jpeg", headers={"cache-control": CACHE})
    data = project.read_image_bytes(uri, name)
    info = probe(
        data,
        max_pixels=project.settings.max_image_pixels,
        max_bytes=project.settings.max_image_bytes,
        name=name,
    )
    return Response(data, media_type=MEDIA_TYPES[info.format], headers={"cache-control": CACHE})
