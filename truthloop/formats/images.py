"""Image probing shared by every format: size from the header, and an opt-in full check.

Accepted formats are JPEG and PNG (what Ground Truth and Rekognition take), plus WebP, BMP and GIF
because Pillow reads them and people have them. Anything else is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from truthloop.core.types import ImageSize
from truthloop.errors import ImageError

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
# Pillow's own bomb limit (Image.MAX_IMAGE_PIXELS, ~89 Mpx) also applies, so a larger
# max_pixels is capped by it.
DEFAULT_MAX_PIXELS = 64_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What a probe learned; `sha256` (hex, of the file's bytes) is "" unless it was verified."""

    size: ImageSize
    sha256: str
    format: str


def _depth(mode: str) -> int:
    # A palette image shows as RGB(A); counting its single index band would mislead.
    return 3 if mode == "P" else Image.getmodebands(mode)


def _byte_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise ImageError(f"cannot read the image: {exc.strerror}", path=path) from None


def probe(
    source: str | os.PathLike[str] | bytes,
    *,
    verify: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ImageInfo:
    """Size and format of an image; with `verify`, also decode it fully and hash its bytes.

    Without `verify` only the header is read. Raises ImageError for an empty file, a file over
    `max_bytes`, something that is not an image in an accepted format, more pixels than
    `max_pixels` (checked from the header, before any decoding) and, with `verify`, a truncated
    or corrupt image.
    """
    path = None if isinstance(source, bytes) else os.fspath(source)
    nbytes = len(source) if isinstance(source, bytes) else _byte_size(os.fspath(source))
    if nbytes == 0:
        raise ImageError("the image file is empty (0 bytes)", path=path)
    if nbytes > max_bytes:
        raise ImageError(f"the image is {nbytes} bytes, more than the limit {max_bytes}", path=path)
    # Verifying hashes the bytes and decodes them, so read them once; a header probe reads
    # only the first bytes of the file.
    data = source if isinstance(source, bytes) else None
    if verify and path is not None:
        data = Path(path).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data) if data is not None else path, formats=FORMATS) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"the image is {width}x{height} = {width * height} pixels, more than the "
                        f"limit {max_pixels} (a decompression bomb?)",
                        path=path,
                    )
                if verify:
                    im.load()
                info = ImageInfo(ImageSize(width, height, _depth(im.mode)), "", im.format or "")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"refused as a decompression bomb: {exc}", path=path) from None
        except UnidentifiedImageError:
            raise ImageError(
                f"not an image in an accepted format ({', '.join(FORMATS)})", path=path
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError(f"the image is truncated or corrupt: {exc}", path=path) from None
    if verify and data is not None:
        return ImageInfo(info.size, hashlib.sha256(data).hexdigest(), info.format)
    return info
