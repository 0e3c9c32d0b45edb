from __future__ import annotations

import hashlib
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.formats.helpers import make_image
from truthloop.core.types import ImageSize
from truthloop.errors import ImageError
from truthloop.formats.images import probe


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size in its header but carries no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("BMP", "bmp"), ("GIF", "gif")],
)
def test_header_probe_gives_size_and_format(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = make_image(tmp_path / f"a.{suffix}", 7, 5, fmt)
    info = probe(path)
    assert (info.size.width, info.size.height, info.format) == (7, 5, fmt)
    assert info.sha256 == ""


def test_verify_hashes_the_bytes_and_reads_depth(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.png", 4, 3)
    info = probe(path, verify=True)
    assert info.size == ImageSize(4, 3, 3)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert probe(path.read_bytes(), verify=True) == info


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as caught:
        probe(tmp_path / "empty.jpg")
    assert caught.value.path == str(tmp_path / "empty.jpg")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        probe(tmp_path / "nope.jpg")


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_text("this is text, not a JPEG")
    with pytest.raises(ImageError, match="not an image in an accepted format"):
        probe(tmp_path / "a.jpg")


def test_formats_outside_the_list_are_refused(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.tiff", fmt="TIFF")
    with pytest.raises(ImageError, match="accepted format"):
        probe(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_fail_verification_only(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "a.img"
    # Noise does not compress, so half the file still holds the whole header.
    Image.frombytes("RGB", (64, 64), random.Random(1).randbytes(64 * 64 * 3)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert probe(path).size.width == 64  # the header alone is intact
    with pytest.raises(ImageError, match="truncated or corrupt"):
        probe(path, verify=True)


def test_too_many_bytes(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.png")
    with pytest.raises(ImageError, match="more than the limit 10"):
        probe(path, max_bytes=10)


def test_a_bomb_is_refused_from_its_header_before_decoding() -> None:
    bomb = png_header_only(30_000, 30_000)
    assert len(bomb) < 100
    with pytest.raises(ImageError, match="decompression bomb"):
        probe(bomb, verify=True, max_pixels=10_000)


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_pillows_own_bomb_warning_and_error_become_image_errors(side: int) -> None:
    # 10,000² is over Pillow's warning limit (~89 Mpx), 20,000² over its error limit.
    with pytest.raises(ImageError, match="decompression bomb"):
        probe(png_header_only(side, side), max_pixels=10**10)
