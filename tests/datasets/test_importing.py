from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.datasets.conftest import box_line, make_image, write_manifest
from truthloop.core.types import Boxes
from truthloop.datasets.exporting import export_dataset
from truthloop.datasets.importing import import_dataset
from truthloop.errors import ImportAborted, InvalidName
from truthloop.storage import datasets as store
from truthloop.storage.project import Project


def _counts(project: Project) -> tuple[int, int, int]:
    with project.session() as s:
        return (
            s.execute(text("select count(*) from datasets")).scalar_one(),
            s.execute(text("select count(*) from items")).scalar_one(),
            s.execute(text("select count(*) from annotations")).scalar_one(),
        )


def _records(project: Project, name: str):
    with project.session() as s:
        return [r for _, r in store.iter_records(s, store.get_dataset(s, name).id)]


def test_import_then_export_gives_back_the_same_manifest(
    project: Project, pets: Path, tmp_path: Path
) -> None:
    report = import_dataset(project, "pets", pets / "output.manifest", fmt="groundtruth")
    assert (report.imported, report.skipped, report.labels) == (3, [], ("dog", "cat"))
    out = tmp_path / "out.manifest"
    assert export_dataset(project, "pets", out, fmt="groundtruth").exported == 3
    again = import_dataset(project, "pets-again", out, fmt="groundtruth")
    assert again.imported == 3
    assert _records(project, "pets-again") == _records(project, "pets")
    first = json.loads(out.read_text().splitlines()[0])
    assert first["bb"]["annotations"] == [
        {"class_id": 0, "left": 5, "top": 5, "width": 20, "height": 20}
    ]
    assert first["bb-metadata"]["job-name"] == "pets"
    assert first["bb-metadata"]["human-annotated"] == "yes"


def test_a_malformed_line_aborts_and_leaves_the_database_as_it_was(
    project: Project, pets: Path
) -> None:
    import_dataset(project, "existing", pets / "output.manifest", fmt="groundtruth")
    before = _counts(project)
    lines = (pets / "output.manifest").read_text().splitlines()
    bad = write_manifest(pets / "bad.manifest", [lines[0], lines[1], "{not json", lines[2]])
    with pytest.raises(ImportAborted, match=r"bad\.manifest:3"):
        import_dataset(project, "broken", bad, fmt="groundtruth")
    assert _counts(project) == before


def test_skip_imports_the_rest_and_reports_what_it_skipped(project: Project, pets: Path) -> None:
    lines = (pets / "output.manifest").read_text().splitlines()
    bad = write_manifest(
        pets / "bad.manifest", [lines[0], "[1, 2]", lines[1], '{"no-ref": 1}', lines[2]]
    )
    report = import_dataset(project, "pets", bad, fmt="groundtruth", on_error="skip")
    assert report.imported == 3
    assert len(report.skipped) == 2
    assert "bad.manifest:2" in report.skipped[0]
    assert "bad.manifest:4" in report.skipped[1]


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../secret.png", "file:///etc/hostname"])
def test_source_refs_outside_the_allowed_roots_are_refused_with_the_line(
    project: Project, pets: Path, ref: str
) -> None:
    manifest = write_manifest(
        pets / "evil.manifest", [box_line("images/0.png", []), {"source-ref": ref}]
    )
    with pytest.raises(ImportAborted, match=r"evil\.manifest:2.*outside"):
        import_dataset(project, "evil", manifest, fmt="groundtruth")
    assert _counts(project) == (0, 0, 0)


def test_a_symlink_that_leads_out_is_refused(project: Project, pets: Path, tmp_path: Path) -> None:
    secret = make_image(tmp_path / "elsewhere" / "secret.png")
    os.symlink(secret, pets / "images" / "link.png")
    manifest = write_manifest(pets / "link.manifest", [{"source-ref": "images/link.png"}])
    with pytest.raises(ImportAborted, match="outside"):
        import_dataset(project, "links", manifest, fmt="groundtruth")
    report = import_dataset(
        project, "links", manifest, fmt="groundtruth", allowed_roots=[tmp_path / "elsewhere"]
    )
    assert report.imported == 1


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/b", "..", "", "x" * 200, "<script>"])
def test_dataset_names_with_path_tricks_are_refused(
    project: Project, pets: Path, name: str
) -> None:
    with pytest.raises(InvalidName):
        import_dataset(project, name, pets / "output.manifest", fmt="groundtruth")


def test_boxes_partly_outside_are_clipped_with_a_warning_and_boxes_fully_outside_refused(
    project: Project, pets: Path
) -> None:
    manifest = write_manifest(
        pets / "boxes.manifest",
        [
            box_line("images/0.png", [(0, 50, 40, 30, 30)]),  # sticks out right and bottom
            box_line("images/1.png", [(1, 100, 100, 10, 10)]),  # nothing inside 64x48
        ],
    )
    with pytest.raises(ImportAborted, match=r"boxes\.manifest:2.*outside"):
        import_dataset(project, "boxes", manifest, fmt="groundtruth")
    report = import_dataset(project, "boxes", manifest, fmt="groundtruth", on_error="skip")
    assert report.imported == 1 and len(report.skipped) == 1
    assert any("clipped" in w for w in report.warnings)
    (record,) = _records(project, "boxes")
    (annotation,) = record.annotations
    assert isinstance(annotation.value, Boxes)
    box = annotation.value.boxes[0]
    assert (box.left, box.top, box.right, box.bottom) == (50, 40, 64, 48)


def test_unknown_labels_are_refused_when_the_label_set_is_fixed(
    project: Project, pets: Path
) -> None:
    with pytest.raises(ImportAborted, match=r"'cat'.*not in the label set"):
        import_dataset(project, "pets", pets / "output.manifest", fmt="groundtruth", labels=["dog"])
    report = import_dataset(
        project,
        "pets",
        pets / "output.manifest",
        fmt="groundtruth",
        labels=["dog"],
        on_error="skip",
    )
    assert report.imported == 2 and report.labels == ("dog",)


def test_duplicate_images_are_refused_by_uri_and_by_content(project: Project, pets: Path) -> None:
    make_image(pets / "images" / "copy.png", color=(200, 30, 30))  # same pixels as 0.png
    manifest = write_manifest(
        pets / "dups.manifest",
        [
            {"source-ref": "images/0.png"},
            {"source-ref": "images/0.png"},
            {"source-ref": "images/copy.png"},
        ],
    )
    report = import_dataset(
        project, "dups", manifest, fmt="groundtruth", verify_images=True, on_error="skip"
    )
    assert report.imported == 1
    assert "twice" in report.skipped[0] and "same content" in report.skipped[1]
    again = import_dataset(
        project, "dups", pets / "output.manifest", fmt="groundtruth", on_error="skip"
    )
    assert again.imported == 2 and "already in the dataset" in again.skipped[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty|zero"),
        (b"this is not an image at all", "not an image|cannot identify|unrecognized"),
        ("truncated", "truncated|corrupt|decode"),
    ],
)
def test_bad_images_are_refused_when_verified(
    project: Project, pets: Path, content, message: str
) -> None:
    target = pets / "images" / "bad.png"
    if content == "truncated":
        good = (pets / "images" / "0.png").read_bytes()
        target.write_bytes(good[: len(good) // 2])
    else:
        target.write_bytes(content)
    manifest = write_manifest(
        pets / "imgs.manifest", [{"source-ref": "images/1.png"}, {"source-ref": "images/bad.png"}]
    )
    with pytest.raises(ImportAborted, match=rf"imgs\.manifest:2.*({message})"):
        import_dataset(project, "imgs", manifest, fmt="groundtruth", verify_images=True)
    assert _counts(project) == (0, 0, 0)


def test_decompression_bombs_are_refused_before_decoding(tmp_path: Path, pets: Path) -> None:
    make_image(pets / "images" / "big.png", size=(3000, 3000))
    manifest = write_manifest(pets / "bomb.manifest", [{"source-ref": "images/big.png"}])
    with (
        Project.init(tmp_path / "home", max_image_pixels=1_000_000) as project,
        pytest.raises(ImportAborted, match="pixels"),
    ):
        import_dataset(project, "bomb", manifest, fmt="groundtruth", verify_images=True)


def test_copy_puts_images_in_the_blob_store_and_an_abort_leaves_no_blob(
    sqlite_project: Project, pets: Path
) -> None:
    report = import_dataset(
        sqlite_project, "pets", pets / "output.manifest", fmt="groundtruth", copy=True
    )
    assert report.copied == 3
    uris = [r.uri for r in _records(sqlite_project, "pets")]
    assert all(u.startswith(str(sqlite_project.home / "blobs" / "images")) for u in uris)
    assert sqlite_project.load_image(uris[0]).size == (64, 48)
    make_image(pets / "images" / "new.png", color=(1, 2, 3))
    manifest = write_manifest(pets / "half.manifest", [{"source-ref": "images/new.png"}, "{oops"])
    with pytest.raises(ImportAborted):
        import_dataset(sqlite_project, "half", manifest, fmt="groundtruth", copy=True)
    assert len(sqlite_project.blobs.keys("images")) == 3


def test_coco_in_its_own_layout_reads_images_from_the_image_root(
    project: Project, pets: Path, tmp_path: Path
) -> None:
    """annotations/instances.json beside images/: file names are relative to --image-root,
    which may then be read; any other format refuses an image root."""
    (pets / "annotations").mkdir()
    coco = pets / "annotations" / "instances.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "0.png", "width": 32, "height": 32}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 20]}],
        "categories": [{"id": 3, "name": "dog"}],
    }))
    report = import_dataset(project, "pets", coco, fmt="coco", image_root=pets / "images",
                            verify_images=True)
    assert report.imported == 1
    (record,) = _records(project, "pets")
    assert record.uri == str((pets / "images" / "0.png").resolve())
    with pytest.raises(ImportAborted, match=r"image .*0\.png: cannot read the image"):
        import_dataset(project, "pets-2", coco, fmt="coco", verify_images=True)
    with pytest.raises(ImportAborted, match="an image root applies to COCO files, not to"):
        import_dataset(project, "pets-3", pets / "output.manifest", fmt="groundtruth",
                       image_root=pets / "images")
    assert _counts(project)[1] == 1


def test_a_creation_date_with_an_offset_is_stored_in_utc(project: Project, tmp_path: Path) -> None:
    line = box_line("s3://b/a.png", [(0, 1, 1, 5, 5)])
    line["bb-metadata"]["creation-date"] = "2026-03-01T12:30:00.250000+02:00"
    manifest = write_manifest(tmp_path / "tz.manifest", [line])
    import_dataset(project, "tz", manifest, fmt="groundtruth")
    (record,) = _records(project, "tz")
    assert record.annotations[0].created_at == datetime(2026, 3, 1, 10, 30, 0, 250000)
