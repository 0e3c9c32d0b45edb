from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from tests.formats.helpers import make_image
from truthloop.core.types import ImageSize
from truthloop.errors import ImageError
from truthloop.formats.images import decode, probe


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


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, not ours
@pytest.mark.parametrize("side", [10_000, 20_000])
def test_pillows_own_bomb_warning_and_error_become_image_errors(side: int) -> None:
    # 10,000² is over Pillow's warning limit (~89 Mpx), 20,000² over its error limit.
    with pytest.raises(ImageError, match="decompression bomb"):
        probe(png_header_only(side, side), max_pixels=10**10)


# decode: the one way an image is decoded, under the limits, reduced for thumbnails.


@pytest.fixture
def decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes from a file from now on, as it starts decoding."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):
        if self.tile:  # something left to decode
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


def test_decode_gives_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("P", (7, 5), 3).save(path)
    image = decode(path)
    assert (image.mode, image.size) == ("RGB", (7, 5))
    assert decode(path.read_bytes()).tobytes() == image.tobytes()


def test_decode_refuses_too_many_pixels_before_decoding_any(
    tmp_path: Path, decoded_sizes: list[tuple[int, int]]
) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)  # 9 Mpx, a few KB on disk
    for source in (path, path.read_bytes()):
        with pytest.raises(ImageError, match=r"3000x3000 = 9000000 pixels, more than the limit"):
            decode(source, max_pixels=1_000_000, fit=320, name="item 7")
    assert decoded_sizes == []


def test_decode_refuses_too_many_bytes_and_names_the_image(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.png")
    with pytest.raises(ImageError, match="more than the limit 10") as caught:
        decode(path, max_bytes=10, name="item 3")
    assert str(caught.value).startswith("item 3: ")
    with pytest.raises(ImageError) as caught:
        decode(path, max_bytes=10)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"not an image at all", "accepted format"), (None, "truncated or corrupt")],
)
def test_decode_refuses_what_is_not_a_whole_image(content: bytes | None, message: str) -> None:
    if content is None:
        noise = Image.frombytes("RGB", (64, 64), random.Random(1).randbytes(64 * 64 * 3))
        out = io.BytesIO()
        noise.save(out, "PNG")
        content = out.getvalue()[: len(out.getvalue()) // 2]
    with pytest.raises(ImageError, match=message):
        decode(content, name="upload")


def test_decode_refuses_formats_outside_the_list(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="accepted format"):
        decode(make_image(tmp_path / "a.tiff", fmt="TIFF"))


def test_a_jpeg_thumbnail_is_decoded_at_a_reduced_scale(
    tmp_path: Path, decoded_sizes: list[tuple[int, int]]
) -> None:
    path = make_image(tmp_path / "a.jpg", 4000, 3000, "JPEG")
    thumb = decode(path, fit=320)
    assert (thumb.mode, thumb.size) == ("RGB", (320, 240))
    # Drafted at 1/4 scale: still REDUCING_GAP times the box (640), never the full 4000x3000.
    assert decoded_sizes == [(1000, 750)]
    assert decode(path).size == (4000, 3000)  # the full decode, for comparison


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "1"])
def test_thumbnails_of_other_images_fit_the_box(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "a.png"
    Image.new(mode, (900, 300)).save(path)
    thumb = decode(path, fit=90)
    assert (thumb.mode, thumb.size) == ("RGB", (90, 30))
    assert decode(path, fit=2000).size == (900, 300)  # never enlarged
