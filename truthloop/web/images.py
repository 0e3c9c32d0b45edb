"""Image bytes as HTTP responses: the original when browsers can show it, a JPEG thumbnail
when a size is asked for."""

from __future__ import annotations

import io

from fastapi.responses import Response
from PIL import Image, UnidentifiedImageError

from truthloop.errors import ImageError
from truthloop.storage.project import Project

# Signatures of the formats every browser shows; anything else is re-encoded as PNG.
SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
]
CACHE = "private, max-age=3600"


def _media_type(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for sig, kind in SIGNATURES if data.startswith(sig)), None)


def _decode(data: bytes, uri: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ImageError(f"cannot show the image {uri}: {error}") from error
    return image


def read_image(project: Project, uri: str) -> bytes:
    try:
        return project.read_bytes(uri)
    except OSError as error:
        raise ImageError(f"cannot read the image {uri}: {error}") from error


def image_response(data: bytes, uri: str, *, max_side: int | None = None) -> Response:
    media_type = _media_type(data)
    if max_side is None and media_type is not None:
        return Response(data, media_type=media_type, headers={"cache-control": CACHE})
    image = _decode(data, uri)
    out = io.BytesIO()
    if max_side is None:
        image.save(out, "PNG")
        return Response(out.getvalue(), media_type="image/png", headers={"cache-control": CACHE})
    image = image.convert("RGB")
    image.thumbnail((max_side, max_side))
    image.save(out, "JPEG", quality=82)
    return Response(out.getvalue(), media_type="image/jpeg", headers={"cache-control": CACHE})
