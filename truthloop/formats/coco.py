"""COCO object detection JSON: `images`, `annotations` (bbox [x, y, w, h] in pixels) and
`categories`; an annotation's `score` (a prediction) becomes the box's confidence.

COCO is one JSON document, so the reader loads it whole, but it yields one record per image.
An image without annotations is read as labeled with no boxes. `file_name` is relative to the
folder of the JSON file, or to `image_root` when given (COCO's own layout keeps
`annotations/instances_train2017.json` beside `train2017/`); when no file is there, a
`coco_url` that is an `s3://` or `file://` URI is used instead (the writer puts images that lie
outside that folder there). Other image keys (license, date_captured, http coco_url...) pass
through in `ImageRecord.extra`. COCO has no image depth: records read back with depth 3.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from truthloop.core.types import Box, ImageRecord, ImageSize, LabelSet
from truthloop.errors import FormatError, InputError, NotWritable
from truthloop.formats import validate
from truthloop.formats.base import ErrorHandler, boxes_annotation, report
from truthloop.formats.images import probe
from truthloop.formats.output import atomic_file, chosen_boxes, local_image
from truthloop.formats.paths import LocalResolver, is_remote, safe_member

_IMAGE_KEYS = ("id", "file_name", "width", "height")


def _key(value: Any, what: str) -> int | str:
    if isinstance(value, str) and value:
        return value
    return validate.integer(value, what)


class CocoReader:
    """Reads a COCO detection file as one ImageRecord per image."""

    def __init__(
        self,
        source: Path | str,
        *,
        on_error: ErrorHandler | None = None,
        allowed_roots: Sequence[Path] = (),
        image_root: Path | None = None,
    ) -> None:
        self.path = Path(source)
        self.on_error = on_error
        self.label_set = LabelSet({})
        self.location = str(self.path)
        base = image_root.absolute() if image_root else self.path.absolute().parent
        self._resolve = LocalResolver(base, allowed_roots)
        self._categories: dict[int | str, str] = {}

    def _fail(self, error: InputError) -> None:
        report(error.at(str(self.path)), self.on_error)

    def __iter__(self) -> Iterator[ImageRecord]:
        try:
            doc = self._document()
        except InputError as error:
            self._fail(error)
            return
        for n, category in enumerate(doc.get("categories", [])):
            try:
                self._add_category(category, n)
            except InputError as error:
                self._fail(error)
        by_image = self._annotations_by_image(doc.get("annotations", []), doc["images"])
        for n, image in enumerate(doc["images"]):
            try:
                image = validate.mapping(image, f"images[{n}]")
                image_id = _key(image.get("id"), f"images[{n}].id")
                record = self._record(image, image_id, by_image.get(image_id, []))
            except InputError as error:
                self._fail(error)
                continue
            self.location = f"{self.path} image id {image_id}"
            yield record

    def _document(self) -> dict[str, Any]:
        try:
            doc = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"not valid JSON: {exc}") from None
        doc = validate.mapping(doc, "the COCO document")
        validate.array(doc.get("images"), "images")
        validate.array(doc.get("annotations", []), "annotations")
        validate.array(doc.get("categories", []), "categories")
        return doc

    def _add_category(self, category: Any, n: int) -> None:
        category = validate.mapping(category, f"categories[{n}]")
        category_id = _key(category.get("id"), f"categories[{n}].id")
        name = validate.text(category.get("name"), f"categories[{n}].name")
        self._categories[category_id] = name
        if isinstance(category_id, int):
            self.label_set = self.label_set.with_label(name, category_id)
        else:
            self.label_set = self.label_set.with_label(name)

    def _annotations_by_image(
        self, annotations: list[Any], images: list[Any]
    ) -> dict[int | str, list[dict[str, Any]]]:
        known = set()
        for image in images:
            with contextlib.suppress(InputError):  # a bad image is reported on its own turn
                known.add(_key(validate.mapping(image, "image").get("id"), "id"))
        by_image: dict[int | str, list[dict[str, Any]]] = defaultdict(list)
        for n, item in enumerate(annotations):
            try:
                item = validate.mapping(item, f"annotations[{n}]")
                image_id = _key(item.get("image_id"), f"annotation id {item.get('id')} image_id")
                if image_id not in known:
                    raise FormatError(
                        f"annotation id {item.get('id')}: image_id {image_id!r} is not an image id"
                    )
            except InputError as error:
                self._fail(error)
                continue
            by_image[image_id].append(item)
        return by_image

    def _uri(self, image: dict[str, Any], what: str) -> tuple[str, bool]:
        """The image's URI, and whether it came from `coco_url` rather than `file_name`."""
        name = safe_member(validate.text(image.get("file_name"), f"{what}.file_name"))
        local = Path(self._resolve(name))
        url = image.get("coco_url")
        if local.exists() or not isinstance(url, str) or not url.startswith(("s3:", "file:")):
            return str(local), False
        if is_remote(url):
            return url, True
        return self._resolve(url), True

    def _box(self, item: dict[str, Any]) -> Box:
        what = f"annotation id {item.get('id')}"
        category = _key(item.get("category_id"), f"{what} category_id")
        if category not in self._categories:
            raise FormatError(f"{what}: category_id {category!r} is not among the categories")
        bbox = validate.array(item.get("bbox"), f"{what} bbox")
        if len(bbox) != 4:
            raise FormatError(f"{what}: bbox must be [x, y, width, height], not {bbox!r}")
        score = item.get("score")
        score = None if score is None else validate.confidence(score, f"{what} score")
        left, top, width, height = bbox
        return validate.box(
            self._categories[category], left, top, width, height, f"{what} bbox", score
        )

    def _record(
        self, image: dict[str, Any], image_id: int | str, items: list[dict[str, Any]]
    ) -> ImageRecord:
        what = f"image id {image_id}"
        uri, from_url = self._uri(image, what)
        size = None
        if "width" in image or "height" in image:
            width = validate.integer(image.get("width"), f"{what} width")
            height = validate.integer(image.get("height"), f"{what} height")
            if width <= 0 or height <= 0:
                raise FormatError(f"{what}: the size must be positive, not {width}x{height}")
            size = ImageSize(width, height)
        boxes = [self._box(item) for item in items]
        taken = (*_IMAGE_KEYS, "coco_url") if from_url else _IMAGE_KEYS
        extra = {k: v for k, v in image.items() if k not in taken}
        return ImageRecord(uri, size, (boxes_annotation(boxes),), extra)


def _image_entry(record: ImageRecord, image_id: int, folder: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": image_id}
    local = None if is_remote(record.uri) else local_image(record.uri, "COCO")
    size = record.size or (probe(local).size if local is not None else None)
    if size is None:
        raise NotWritable(
            f"{record.uri}: COCO needs the image size, and the item has none; import the dataset"
            " with --verify-images to read it from the image"
        )
    if local is not None and local.is_relative_to(folder):
        entry["file_name"] = local.relative_to(folder).as_posix()
    else:
        entry["file_name"] = record.uri.rsplit("/", 1)[-1]
        entry["coco_url"] = record.uri if local is None else local.as_uri()
    entry |= {"width": size.width, "height": size.height}
    return entry | {k: v for k, v in record.extra.items() if k not in entry}


def write_coco(
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Write a COCO detection file to `dest` atomically; the number of images written.

    Images are streamed into the file while their annotations are spooled to a temporary file
    and appended after them, so the document never sits in memory.
    """
    folder = dest.absolute().parent
    categories = [{"id": label_set.ids[name], "name": name} for name in label_set.names]
    count = annotation_id = 0
    with atomic_file(dest) as out, tempfile.TemporaryFile(dir=folder) as spool:
        out.write(b'{"categories":' + orjson.dumps(categories) + b',"images":[')
        for count, record in enumerate(records, 1):
            entry = _image_entry(record, count, folder)
            out.write((b"," if count > 1 else b"") + orjson.dumps(entry))
            for box in chosen_boxes(record, label_set, label_attribute):
                annotation_id += 1
                item = {
                    "id": annotation_id,
                    "image_id": count,
                    "category_id": label_set.ids[box.label],
                    "bbox": [box.left, box.top, box.width, box.height],
                    "area": box.area,
                    "iscrowd": 0,
                } | ({} if box.confidence is None else {"score": box.confidence})
                spool.write((b"," if annotation_id > 1 else b"") + orjson.dumps(item))
        out.write(b'],"annotations":[')
        spool.seek(0)
        shutil.copyfileobj(spool, out)
        out.write(b"]}\n")
    return count
