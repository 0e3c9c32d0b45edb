"""Image probing shared by every format: size from the header, and an opt-in full check; and
`decode`, the one way every path (thumbnails, training, prediction, detect) decodes an image,
under the byte and pixel limits, reduced for a thumbnail.

Accepted formats are JPEG and PNG (what Ground Truth and Rekognition take), plus WebP, BMP and GIF
because Pillow reads them and people have them. Anything else is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from truthloop.core.image_limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from truthloop.core.types import ImageSize
from truthloop.errors import ImageError

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
# The limits when a caller gives none (core/image_limits.py; a project's come from its settings).
DEFAULT_MAX_PIXELS = MAX_IMAGE_PIXELS
DEFAULT_MAX_BYTES = MAX_IMAGE_BYTES
# A thumbnail is shrunk by whole factors (JPEG: decoded at a smaller scale) while it stays at
# least this many times its final size, then resampled: Pillow's default, close to a fair
# resample at a fraction of the memory and time.
REDUCING_GAP = 2.0
# Modes a thumbnail can shrink as they are; the others become RGB first.
_SHRINKABLE = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr"})


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What a probe learned; `sha256` (hex, of the file's bytes) is "" unless it was verified."""

    size: ImageSize
    sha256: str
    format: str


def _depth(mode: str) -> int:
    # A palette image shows as RGB(A); counting its single index band would mislead.
    return 3 if mode == "P" else Image.getmodebands(mode)


def _byte_size(path: str, name: str | None) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise ImageError(f"cannot read the image: {exc.strerror}", path=name) from None


def check_bytes(nbytes: int, max_bytes: int, name: str | None = None) -> None:
    """Refuse an image file that is empty or over `max_bytes`, naming it `name`."""
    if nbytes == 0:
        raise ImageError("the image file is empty (0 bytes)", path=name)
    if nbytes > max_bytes:
        raise ImageError(f"the image is {nbytes} bytes, more than the limit {max_bytes}", path=name)


@contextmanager
def _opened(source: str | bytes, *, max_pixels: int, name: str | None) -> Iterator[Image.Image]:
    """The image in `source` (a path or its bytes), opened but not decoded, refused when its
    header declares more than `max_pixels`; an error decoding it inside the block becomes an
    ImageError naming `name`."""
    # Pillow's own limit is checked here rather than through its warning: turning a warning
    # into an error takes `warnings.catch_warnings`, which is not thread-safe, and images are
    # decoded in a web server's threads.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        with Image.open(
            io.BytesIO(source) if isinstance(source, bytes) else source, formats=FORMATS
        ) as image:
            width, height = image.size
            if width * height > limit:
                raise ImageError(
                    f"the image is {width}x{height} = {width * height} pixels, more than the "
                    f"limit {limit} (a decompression bomb?)",
                    path=name,
                )
            yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"refused as a decompression bomb: {exc}", path=name) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"not an image in an accepted format ({', '.join(FORMATS)})", path=name
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image is truncated or corrupt: {exc}", path=name) from None


def probe(
    source: str | os.PathLike[str] | bytes,
    *,
    verify: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    name: str | None = None,
) -> ImageInfo:
    """Size and format of an image; with `verify`, also decode it fully and hash its bytes.

    Without `verify` only the header is read. Raises ImageError for an empty file, a file over
    `max_bytes`, something that is not an image in an accepted format, more pixels than
    `max_pixels` (checked from the header, before any decoding) and, with `verify`, a truncated
    or corrupt image; each names the image `name` (by default its path).
    """
    path = None if isinstance(source, bytes) else os.fspath(source)
    data = source if isinstance(source, bytes) else None
    name = name if name is not None else path
    check_bytes(len(data) if data is not None else _byte_size(str(path), name), max_bytes, name)
    # Verifying hashes the bytes and decodes them, so read them once; a header probe reads
    # only the first bytes of the file.
    if verify and path is not None:
        data = Path(path).read_bytes()
    with _opened(data if data is not None else str(path), max_pixels=max_pixels, name=name) as im:
        if verify:
            im.load()
        info = ImageInfo(ImageSize(*im.size, _depth(im.mode)), "", im.format or "")
    if verify and data is not None:
        return ImageInfo(info.size, hashlib.sha256(data).hexdigest(), info.format)
    return info


def decode(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    fit: int | None = None,
    name: str | None = None,
) -> Image.Image:
    """The image in `source` decoded to RGB; with `fit`, shrunk so that no side exceeds `fit`.

    Every image truthloop did not draw itself is decoded here. Its size in bytes and the pixels
    its header declares are checked against the limits before a pixel is decoded, so an image
    over them costs a header read, never its decoded size in memory. With `fit` (thumbnails) a
    JPEG decodes at 1/2 to 1/8 scale and other images shrink by whole factors before the final
    resample. Raises ImageError naming `name` (by default the path; say which item it is when
    the path is not for the reader's eyes).
    """
    data = source if isinstance(source, bytes) else None
    path = None if isinstance(source, bytes) else os.fspath(source)
    name = name if name is not None else path
    check_bytes(len(data) if data is not None else _byte_size(str(path), name), max_bytes, name)
    with _opened(data if data is not None else str(path), max_pixels=max_pixels, name=name) as im:
        return _shrunk(im, fit) if fit is not None else im.convert("RGB")


def _shrunk(image: Image.Image, fit: int) -> Image.Image:
    if image.mode not in _SHRINKABLE:
        image = image.convert("RGB")  # palette and 1-bit images would shrink by nearest pixel
    # Called before anything is decoded, `thumbnail` drafts a JPEG (decodes it at the smallest
    # scale still REDUCING_GAP times the box) and `reduce`s the others by whole factors first.
    image.thumbnail((fit, fit), reducing_gap=REDUCING_GAP)
    return image.convert("RGB")
