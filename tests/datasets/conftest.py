from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image


def make_image(
    path: Path, size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def box_line(ref: str, boxes: list[tuple[int, int, int, int, int]], *, size=(64, 48)) -> dict:
    """A Ground Truth bounding-box output line; boxes are (class_id, left, top, width, height)."""
    return {
        "source-ref": ref,
        "bb": {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in boxes
            ],
        },
        "bb-metadata": {
            "objects": [{"confidence": 0.9} for _ in boxes],
            "class-map": {"0": "dog", "1": "cat"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2018-10-18T22:18:13.527256",
            "job-name": "pets",
        },
    }


def write_manifest(path: Path, lines: Sequence[dict[str, Any] | str]) -> Path:
    with path.open("w") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    """A folder with three distinct images and a valid box manifest for them."""
    root = tmp_path / "pets"
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    for i, color in enumerate(colors):
        make_image(root / "images" / f"{i}.png", color=color)
    write_manifest(
        root / "output.manifest",
        [box_line(f"images/{i}.png", [(i % 2, 5, 5, 20, 20)]) for i in range(3)],
    )
    return root
