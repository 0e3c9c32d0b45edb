"""YOLO detection folders (Darknet / Ultralytics): `images/[split/]*` + `labels/[split/]*.txt`.

A label line is `class x_center y_center width height`, normalized to the image size, with an
optional sixth value, the confidence (Ultralytics' `save_conf`). Class names come from
`data.yaml` (`names:` as a list or an id → name map) or else `classes.txt`. An image without a
label file has no objects (Ultralytics' background image). A first folder under `images/` named
train, val/valid/validation or test sets the record's split.

The writer numbers classes 0..n-1 in label-set id order (YOLO wants them contiguous) and writes
ratios as their shortest exact floats. The reader rounds pixels to nine decimals, so boxes in
whole pixels or with up to nine decimals read back exactly; others move by under 1e-9 pixel.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from truthloop.core.types import Box, ImageRecord, ImageSize, LabelSet, Split
from truthloop.errors import FormatError, InputError
from truthloop.formats import validate
from truthloop.formats.base import FolderReader, boxes_annotation, report
from truthloop.formats.images import IMAGE_SUFFIXES, probe
from truthloop.formats.output import (
    atomic_file,
    chosen_boxes,
    local_image,
    place_image,
    unique_name,
)

_SPLITS = {
    "train": Split.TRAIN,
    "val": Split.VALIDATION,
    "valid": Split.VALIDATION,
    "validation": Split.VALIDATION,
    "test": Split.TEST,
}
_SPLIT_FOLDERS = {Split.TRAIN: "train", Split.VALIDATION: "val", Split.TEST: "test"}
_PIXEL_DECIMALS = 9


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text: {exc}", path=str(path)) from None


def _names_from_yaml(path: Path) -> list[str]:
    try:
        data = yaml.safe_load(_text(path))
    except yaml.YAMLError as exc:
        raise FormatError(f"not valid YAML: {exc}", path=str(path)) from None
    names = validate.mapping(data, "data.yaml").get("names")
    if isinstance(names, dict):
        ids = {validate.integer(k, "names id"): validate.text(v, "names") for k, v in names.items()}
        if sorted(ids) != list(range(len(ids))):
            raise FormatError(f"names ids must be 0..{len(ids) - 1}, not {sorted(ids)}")
        return [ids[i] for i in range(len(ids))]
    return [validate.text(name, "names[]") for name in validate.array(names, "names")]


def _names_from_text(path: Path) -> list[str]:
    lines = _text(path).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise FormatError("a class name is empty", path=str(path), line=number)
    return [line.strip() for line in lines]


def class_names(root: Path) -> list[str]:
    """The class names of the YOLO folder `root`, index = class id."""
    for name, parse in (("data.yaml", _names_from_yaml), ("classes.txt", _names_from_text)):
        if (root / name).is_file():
            try:
                return parse(root / name)
            except InputError as error:
                raise error.at(str(root / name)) from None
    raise FormatError(f"{root} has neither data.yaml nor classes.txt to name the classes")


def _box(tokens: list[str], names: list[str], size: ImageSize) -> Box:
    if len(tokens) not in (5, 6):
        raise FormatError(
            f"expected 'class x_center y_center width height [confidence]', got {len(tokens)} "
            "values (segmentation polygons are not supported)"
        )
    class_id = validate.integer(tokens[0], "the class")
    if class_id >= len(names):
        raise FormatError(f"class {class_id} is not among the {len(names)} class names")
    try:
        xc, yc, w, h, *score = (float(t) for t in tokens[1:])
    except ValueError:
        raise FormatError(f"the values must be numbers: {' '.join(tokens[1:])}") from None
    confidence = validate.confidence(score[0], "the confidence") if score else None
    pixels = [(xc - w / 2) * size.width, (yc - h / 2) * size.height]
    pixels += [w * size.width, h * size.height]
    # Ratios cannot hold most pixel values exactly; rounding to a billionth of a pixel gives
    # back the very value that was written whenever it had no more than nine decimals.
    left, top, width, height = (
        round(p, _PIXEL_DECIMALS) if math.isfinite(p) else p for p in pixels
    )
    return validate.box(names[class_id], left, top, width, height, "the box", confidence)


class YoloReader(FolderReader):
    """Reads a YOLO folder; image sizes come from the image headers."""

    def __init__(self, source: Path | str, **options: Any) -> None:
        super().__init__(source, **options)
        self.names = class_names(self.root)
        self.label_set = LabelSet.from_names(self.names)

    @staticmethod
    def root_of(source: Path) -> Path:
        return source.parent if source.is_file() else source

    def _image_paths(self) -> Iterator[Path]:
        for folder, dirs, files in os.walk(self.root / "images"):
            dirs.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                    yield Path(folder, name).relative_to(self.root / "images")

    def __iter__(self) -> Iterator[ImageRecord]:
        for relative in self._image_paths():
            try:
                record = self._record(relative)
            except InputError as error:
                report(error.at(str(self.root / "images" / relative)), self.on_error)
                continue
            self.location = str(self.root / "images" / relative)
            yield record

    def _record(self, relative: Path) -> ImageRecord:
        image = Path(self._resolve(("images" / relative).as_posix()))
        size = probe(image, max_pixels=self.max_pixels, max_bytes=self.max_bytes).size
        labels = Path(self._resolve(("labels" / relative).with_suffix(".txt").as_posix()))
        boxes = []
        if labels.is_file():
            for number, line in enumerate(_text(labels).splitlines(), 1):
                if line.strip():
                    try:
                        boxes.append(_box(line.split(), self.names, size))
                    except InputError as error:
                        raise error.at(str(labels), number) from None
        split = _SPLITS.get(relative.parts[0].lower()) if len(relative.parts) > 1 else None
        return ImageRecord(str(image), size, (boxes_annotation(boxes),), split=split)


def _label_line(box: Box, class_index: int, size: ImageSize) -> str:
    values = [
        (box.left + box.width / 2) / size.width,
        (box.top + box.height / 2) / size.height,
        box.width / size.width,
        box.height / size.height,
    ]
    if box.confidence is not None:
        values.append(box.confidence)
    return " ".join([str(class_index), *(repr(float(v)) for v in values)])


def _write_text(path: Path, text: str) -> None:
    with atomic_file(path) as out:
        out.write(text.encode("utf-8"))


def _data_yaml(names: Sequence[str], splits: set[str]) -> str:
    data: dict[str, Any] = {
        "train": "images/train" if "train" in splits else "images",
        "val": "images/val" if "val" in splits else "images",
    }
    if "test" in splits:
        data["test"] = "images/test"
    data["names"] = dict(enumerate(names))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_yolo(
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Write a YOLO folder at `dest`: images linked or copied into images/, one label file each,
    and classes.txt plus a minimal data.yaml."""
    names = label_set.names
    index = {name: n for n, name in enumerate(names)}
    taken: set[str] = set()
    splits: set[str] = set()
    count = 0
    for record in records:
        count += 1
        boxes = chosen_boxes(record, label_set, label_attribute)
        source = local_image(record.uri, "YOLO")
        size = record.size or probe(source).size
        lines = [_label_line(b, index[b.label], size) for b in boxes]
        folder = _SPLIT_FOLDERS.get(record.split) if record.split else None
        sub = Path(folder) if folder else Path()
        splits.add(folder or "")
        name = unique_name(source.name, taken)
        place_image(source, dest / "images" / sub / name)
        label_file = dest / "labels" / sub / f"{Path(name).stem}.txt"
        _write_text(label_file, "".join(f"{line}\n" for line in lines))
    _write_text(dest / "classes.txt", "".join(f"{name}\n" for name in names))
    _write_text(dest / "data.yaml", _data_yaml(names, splits))
    return count
