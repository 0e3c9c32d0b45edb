"""Images over the pixel limit: every path that shows an image (through the live portal) refuses
one from its header, before decoding it, with a 4xx that names the item and not its path on the
server; a thumbnail of a large legal image is decoded at a reduced scale; training and
prediction skip such an image and say which; an import refuses an image file that is not there
and says how many it did not open.

The portal runs in this process (tests.web.conftest.live), so a spy on Pillow's decoding sees
what the server decodes, and this process's memory is the server's.
"""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import httpx
import psutil
import pytest
from PIL import Image, ImageFile

from tests.datasets.conftest import write_manifest
from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from tests.security.conftest import bearer
from tests.web.portal import Portal
from truthloop.core.types import ImageRecord, ImageSize, LabelSet
from truthloop.datasets.importing import import_dataset
from truthloop.errors import ImportAborted
from truthloop.formats.images import FORMATS
from truthloop.ml import registry
from truthloop.ml.fake import FakeModel
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.web.images import MEDIA_TYPES

# Pillow warns of its own about 144 Mpx; what counts here is that truthloop refuses them.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
SIDE = 12_000  # 144 Mpx: 144 MB decoded as grey, 432 MB as the RGB a thumbnail was made from


def blank_png(width: int, height: int) -> bytes:
    """A black greyscale PNG, compressed row by row: never whole in memory, here or anywhere."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the row's pixels
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


@pytest.fixture(scope="session")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return blank_png(SIDE, SIDE)


def add_dataset(portal: Portal, name: str, path: Path, size: tuple[int, int]) -> int:
    """A dataset of the one image at `path`; its item id."""
    with portal.project.session() as session:
        dataset = store.create_dataset(session, name, LabelSet.from_names(("cat", "dog")))
        record = ImageRecord(str(path), ImageSize(*size))
        return store.insert_items(session, dataset.id, [store.NewItem(record)])[0]


@pytest.fixture
def huge(portal: Portal, huge_png: bytes) -> int:
    """The item id of a 12,000 x 12,000 PNG in a dataset of its own, `huge`."""
    path = portal.project.home / "images" / "huge.png"
    path.write_bytes(huge_png)
    return add_dataset(portal, "huge", path, (SIDE, SIDE))


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image Pillow starts decoding from now on, in the server too."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile):
        if self.tile:
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


def assert_refused(answer: httpx.Response, name: str, portal: Portal) -> None:
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith(f"{name}: the image is {SIDE}x{SIDE} = ")
    assert "pixels, more than the limit" in detail
    assert str(portal.project.home) not in detail  # no path on the server


def test_a_thumbnail_over_the_pixel_limit_is_refused_before_decoding(
    portal: Portal, http: httpx.Client, huge: int, decoded: list[tuple[int, int]]
) -> None:
    headers = bearer(portal, "mia")
    server = psutil.Process()
    before = server.memory_info().rss
    started = time.monotonic()
    for _ in range(4):  # four of these took the server to 2.5 GB
        answer = http.get(f"/api/items/{huge}/image?size=320", headers=headers)
        assert_refused(answer, f"item {huge}", portal)
    assert time.monotonic() - started < 2
    assert decoded == []
    assert server.memory_info().rss - before < 100 * 2**20


def test_the_original_over_the_pixel_limit_is_refused_from_its_header(
    portal: Portal, http: httpx.Client, huge: int, decoded: list[tuple[int, int]]
) -> None:
    # Sent as it is, it would be decoded whole by the browser that shows it.
    answer = http.get(f"/api/items/{huge}/image", headers=bearer(portal, "mia"))
    assert_refused(answer, f"item {huge}", portal)
    assert decoded == []


def test_the_annotator_is_refused_the_image_of_a_task_over_the_limit(
    portal: Portal, http: httpx.Client, huge: int, decoded: list[tuple[int, int]]
) -> None:
    job_id = portal.job("huge-job", dataset="huge")
    headers = bearer(portal, "wendy")
    task = http.post(f"/api/jobs/{job_id}/next", headers=headers).json()
    answer = http.get(task["image_url"], headers=headers)
    assert_refused(answer, f"task {task['task_id']}", portal)
    assert decoded == []


def test_every_accepted_format_goes_out_as_it_is() -> None:
    # An original is sent as its own bytes, so each format needs a media type browsers show.
    assert set(MEDIA_TYPES) == set(FORMATS)


def test_a_thumbnail_of_a_large_legal_jpeg_is_decoded_reduced(
    portal: Portal, http: httpx.Client, decoded: list[tuple[int, int]]
) -> None:
    path = portal.project.home / "images" / "large.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(path, quality=80)
    item = add_dataset(portal, "large", path, (4000, 3000))
    decoded.clear()
    answer = http.get(f"/api/items/{item}/image?size=320", headers=bearer(portal, "mia"))
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert decoded[0] == (1000, 750)  # drafted at 1/4: twice the box, not 4000x3000
    assert (4000, 3000) not in decoded
    thumb = decoded.copy()
    original = http.get(f"/api/items/{item}/image", headers=bearer(portal, "mia"))
    assert original.content == path.read_bytes()  # sent as it is, not decoded
    assert decoded == thumb


def test_training_and_prediction_skip_an_image_over_the_limit_and_name_it(
    project: Project, huge_png: bytes, decoded: list[tuple[int, int]]
) -> None:
    store_shapes(project, "train", shapes(20, seed=1))
    store_shapes(project, "test", shapes(9, seed=2))
    big = project.home / "images" / "train" / "3.png"
    big.write_bytes(huge_png)
    version = registry.train_version(
        project, "s", dataset="train", task="classification", test_dataset="test",
        model=FakeModel(),
    )
    assert version.training_report is not None
    # As with any image that cannot be read: skipped, counted and named in the report.
    skipped = version.training_report["skipped"]
    assert [s["uri"] for s in skipped] == [str(big)]
    assert f"{SIDE}x{SIDE} = {SIDE * SIDE} pixels, more than the limit" in skipped[0]["reason"]
    answers = list(registry.predict_dataset(project, version.name, "train"))
    failed = [a for a in answers if a.error]
    assert [a.uri for a in failed] == [str(big)] and failed[0].value is None
    assert "pixels, more than the limit" in (failed[0].error or "")
    assert len(answers) == 20
    assert (SIDE, SIDE) not in decoded


def test_an_import_refuses_an_image_file_that_is_not_there(project: Project, pets: Path) -> None:
    manifest = write_manifest(
        pets / "gone.manifest", [{"source-ref": "images/0.png"}, {"source-ref": "images/gone.png"}]
    )
    with pytest.raises(ImportAborted, match=r"gone\.manifest:2: image .*gone\.png cannot be read"):
        import_dataset(project, "gone", manifest, fmt="groundtruth")
    report = import_dataset(project, "gone", manifest, fmt="groundtruth", on_error="skip")
    assert report.imported == 1
    assert len(report.skipped) == 1 and "gone.manifest:2" in report.skipped[0]


def test_an_import_says_how_many_images_it_did_not_open(project: Project, pets: Path) -> None:
    plain = import_dataset(project, "plain", pets / "output.manifest", fmt="groundtruth")
    assert (plain.imported, plain.unopened, plain.to_json()["unopened"]) == (3, 3, 3)
    verified = import_dataset(
        project, "verified", pets / "output.manifest", fmt="groundtruth", verify_images=True
    )
    assert (verified.imported, verified.unopened) == (3, 0)
