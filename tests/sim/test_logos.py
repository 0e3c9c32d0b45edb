from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from truthloop.cli.sim import app
from truthloop.core.types import Boxes, Classification, ImageRecord
from truthloop.errors import AlreadyExists, InputError
from truthloop.formats import open_reader
from truthloop.sim.logo_scenes import render_scene
from truthloop.sim.logos import generate_logos

runner = CliRunner()


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _read(manifest: Path) -> list[ImageRecord]:
    return list(open_reader("groundtruth", manifest))


def test_the_same_arguments_write_byte_identical_files(tmp_path: Path) -> None:
    a = generate_logos(tmp_path / "a", images=12, seed=5)
    b = generate_logos(tmp_path / "b", images=12, seed=5)
    files = _files(tmp_path / "a")
    assert len(files) == 13 and files == _files(tmp_path / "b")
    assert a.objects == b.objects
    generate_logos(tmp_path / "c", images=12, seed=6)
    assert _files(tmp_path / "c")["output.manifest"] != files["output.manifest"]


def test_the_manifest_holds_each_images_exact_boxes_and_can_be_moved(tmp_path: Path) -> None:
    done: list[int] = []
    dataset = generate_logos(tmp_path / "set", images=15, seed=2, progress=done.append)
    assert done == list(range(1, 16))
    assert dataset.manifest == tmp_path / "set" / "output.manifest"
    assert dataset.classes == ("acme", "globex", "initech") and dataset.images == 15
    assert '"source-ref":"images/000000.jpg"' in dataset.manifest.read_text().splitlines()[0]

    shutil.move(tmp_path / "set", tmp_path / "moved")
    records = _read(tmp_path / "moved" / "output.manifest")
    assert len(records) == 15
    objects = 0
    for index, record in enumerate(records):
        (annotation,) = record.annotations
        assert annotation.attribute == "logos" and annotation.job_name == "sim-logos"
        assert annotation.human and isinstance(annotation.value, Boxes)
        expected = render_scene(2, index).logos
        assert annotation.value.boxes == tuple(logo.box for logo in expected)
        with Image.open(record.uri) as image:
            assert image.format == "JPEG" and image.size == (320, 320)
        objects += len(expected)
    assert objects == dataset.objects > 0


def test_classification_writes_one_label_per_image(tmp_path: Path) -> None:
    dataset = generate_logos(
        tmp_path / "set", images=10, classes=4, seed=1, mode="classification", size=160
    )
    records = _read(dataset.manifest)
    assert len(records) == dataset.objects == 10
    for index, record in enumerate(records):
        (annotation,) = record.annotations
        assert isinstance(annotation.value, Classification)
        assert (
            annotation.value.label
            == render_scene(1, index, classes=4, mode="classification", size=160).logos[0].label
        )
        assert annotation.value.label in dataset.classes
        with Image.open(record.uri) as image:
            assert image.size == (160, 160)


def test_an_earlier_output_is_replaced_whole(tmp_path: Path) -> None:
    dest = tmp_path / "set"
    generate_logos(dest, images=6, seed=1)
    generate_logos(dest, images=3, seed=2)
    assert sorted(p.name for p in (dest / "images").iterdir()) == [
        "000000.jpg",
        "000001.jpg",
        "000002.jpg",
    ]
    generate_logos(tmp_path / "fresh", images=3, seed=2)
    assert _files(dest) == _files(tmp_path / "fresh")


@pytest.mark.parametrize("foreign", ["notes.txt", "images/photo.png"])
def test_a_folder_with_other_files_is_refused_and_left_alone(tmp_path: Path, foreign: str) -> None:
    (tmp_path / foreign).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / foreign).write_text("keep me")
    before = _files(tmp_path)
    with pytest.raises(AlreadyExists, match=f"not a synthetic logo set \\({foreign}\\)"):
        generate_logos(tmp_path, images=2)
    assert _files(tmp_path) == before


def test_a_file_as_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(AlreadyExists, match="is a file"):
        generate_logos(tmp_path / "file", images=2)
    assert (tmp_path / "file").read_text() == "keep me"


def test_bad_counts_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must not be negative, not -1 and 0"):
        generate_logos(tmp_path / "set", images=-1)
    with pytest.raises(InputError, match="logo classes must be between 1 and 12, not 20"):
        generate_logos(tmp_path / "set", images=2, classes=20)
    assert not (tmp_path / "set").exists()


def test_cli_prints_json_and_a_summary(tmp_path: Path) -> None:
    args = ["--images", "4", "--classes", "3", "--seed", "1"]
    result = runner.invoke(app, [str(tmp_path / "a"), *args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["manifest"] == str(tmp_path / "a" / "output.manifest")
    assert out["images"] == 4 and out["classes"] == ["acme", "globex", "initech"]
    assert out["objects"] == sum(len(render_scene(1, i).logos) for i in range(4))

    result = runner.invoke(app, [str(tmp_path / "b"), *args, "--mode", "classification"])
    assert result.exit_code == 0, result.output
    assert "4 images with 4 logos of 3 classes (acme, globex, initech)" in result.stdout


def test_cli_reports_bad_input_as_a_message(tmp_path: Path) -> None:
    result = runner.invoke(app, [str(tmp_path / "a"), "--size", "8", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["message"] == (
        "image size must be between 64 and 4096 pixels, not 8"
    )
    result = runner.invoke(app, [str(tmp_path / "a"), "--classes", "13"])
    assert result.exit_code == 2 and "--classes" in result.output
