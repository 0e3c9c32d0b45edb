"""Pascal VOC: `Annotations/*.xml`, one file per image, images in `JPEGImages/` (or beside the XML).

Coordinates: VOC's `xmin ymin xmax ymax` are 1-based, inclusive pixel indices (the box covering
only the top-left pixel is 1 1 1 1). truthloop's boxes are continuous with the origin at the
top-left corner of that pixel, so `left = xmin - 1`, `top = ymin - 1`, `right = xmax`,
`bottom = ymax`. The arithmetic is done in decimal, so reading back what was written gives the
very same floats. An object's optional `<score>` is its confidence; `difficult`, `truncated`
and `pose` are not kept. DTDs and entities are refused before parsing (no entity expansion).
"""

from __future__ import annotations

import decimal
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from truthloop.core.types import (
    Box,
    ImageRecord,
    ImageSize,
    LabelSet,
    label_names,
)
from truthloop.errors import FormatError, InputError
from truthloop.formats import validate
from truthloop.formats.base import FolderReader, boxes_annotation, report
from truthloop.formats.images import probe
from truthloop.formats.output import (
    atomic_file,
    chosen_boxes,
    local_image,
    place_image,
    unique_name,
)
from truthloop.formats.paths import safe_member

ANNOTATIONS, IMAGES = "Annotations", "JPEGImages"
MAX_XML_BYTES = 10 * 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# Exact for any float written as its shortest repr, whatever its exponent.
_EXACT = decimal.Context(prec=1000, traps=[decimal.InvalidOperation])


def _parse_xml(path: Path) -> ET.Element:
    data = path.read_bytes()
    if len(data) > MAX_XML_BYTES:
        raise FormatError(f"the XML file is larger than {MAX_XML_BYTES} bytes")
    # An ASCII-compatible encoding is needed for the DTD check below to see what it looks for.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise FormatError("UTF-16/32 XML is not supported; save it as UTF-8")
    if _DTD.search(data):
        raise FormatError("the XML declares a DTD or entities, which are refused for safety")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise FormatError(f"not well-formed XML: {exc}", line=exc.position[0]) from None


def _child_text(parent: ET.Element, tag: str, what: str) -> str:
    node = parent.find(tag)
    if node is None or not (node.text or "").strip():
        raise FormatError(f"{what} has no <{tag}>")
    return (node.text or "").strip()


def _decimal(parent: ET.Element, tag: str, what: str) -> Decimal:
    text = _child_text(parent, tag, what)
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        raise FormatError(f"{what} <{tag}> must be a number, not {text!r}") from None
    if not value.is_finite():
        raise FormatError(f"{what} <{tag}> must be a finite number, not {text!r}")
    return value


def _box(obj: ET.Element, what: str) -> Box:
    name = _child_text(obj, "name", what)
    bndbox = obj.find("bndbox")
    if bndbox is None:
        raise FormatError(f"{what} ({name}) has no <bndbox>")
    xmin, ymin, xmax, ymax = (_decimal(bndbox, t, what) for t in ("xmin", "ymin", "xmax", "ymax"))
    score = obj.findtext("score")
    confidence = None if score is None else validate.confidence(_float(score, what), what)
    one = Decimal(1)
    return validate.box(
        name,
        float(_EXACT.subtract(xmin, one)),
        float(_EXACT.subtract(ymin, one)),
        float(_EXACT.add(_EXACT.subtract(xmax, xmin), one)),
        float(_EXACT.add(_EXACT.subtract(ymax, ymin), one)),
        what,
        confidence,
    )


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"{what} <score> must be a number, not {text!r}") from None


def _size(root: ET.Element) -> ImageSize | None:
    """The size the XML states, or None when it leaves it out or states 0 (some tools do)."""
    node = root.find("size")
    if node is None:
        return None
    width, height = (_dimension(node, t) for t in ("width", "height"))
    depth = _dimension(node, "depth") if node.findtext("depth") else 3
    if width == 0 or height == 0:
        return None
    return ImageSize(width, height, max(depth, 1))


def _dimension(size: ET.Element, tag: str) -> int:
    value = _decimal(size, tag, "<size>")
    if not 0 <= value <= 1_000_000 or value != value.to_integral_value():
        raise FormatError(f"<size> <{tag}> must be a whole number of pixels, not {value}")
    return int(value)


class VocReader(FolderReader):
    """Reads a VOC folder (holding `Annotations/`, or the XML files themselves)."""

    def __init__(self, source: Path | str, **options: Any) -> None:
        super().__init__(source, **options)
        folder = self.root / ANNOTATIONS
        self._xml_folder = folder if folder.is_dir() else self.root

    def __iter__(self) -> Iterator[ImageRecord]:
        for path in sorted(self._xml_folder.glob("*.xml")):
            try:
                record = self._record(path)
            except InputError as error:
                report(error.at(str(path)), self.on_error)
                continue
            for label in label_names(record.annotations[0].value):
                self.label_set = self.label_set.with_label(label)
            self.location = str(path)
            yield record

    def _image(self, name: str, xml: Path) -> Path:
        candidates = [self.root / IMAGES / name, xml.parent / name]
        found = next((c for c in candidates if c.exists()), candidates[0])
        return Path(self._resolve(str(found.relative_to(self.root))))

    def _record(self, xml: Path) -> ImageRecord:
        real = Path(self._resolve(str(xml.relative_to(self.root))))
        root = _parse_xml(real)
        image = self._image(safe_member(_child_text(root, "filename", "the file")), xml)
        size = _size(root)
        if size is None:
            info = probe(image, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
            size = info.size
        boxes = [_box(obj, f"<object> {n + 1}") for n, obj in enumerate(root.iter("object"))]
        return ImageRecord(str(image), size, (boxes_annotation(boxes),))


def _text(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(_EXACT), "f")


def _sub(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def voc_xml(name: str, size: ImageSize, boxes: Iterable[Box]) -> bytes:
    root = ET.Element("annotation")
    _sub(root, "folder", IMAGES)
    _sub(root, "filename", name)
    size_node = ET.SubElement(root, "size")
    for tag, value in (("width", size.width), ("height", size.height), ("depth", size.depth)):
        _sub(size_node, tag, str(value))
    for box in boxes:
        obj = ET.SubElement(root, "object")
        _sub(obj, "name", box.label)
        if box.confidence is not None:
            _sub(obj, "score", repr(box.confidence))
        left, top = Decimal(repr(box.left)), Decimal(repr(box.top))
        corners = (
            _EXACT.add(left, 1),
            _EXACT.add(top, 1),
            _EXACT.add(left, Decimal(repr(box.width))),
            _EXACT.add(top, Decimal(repr(box.height))),
        )
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, corner in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            _sub(bndbox, tag, _text(corner))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_voc(
    records: Iterable[ImageRecord],
    dest: Path,
    *,
    label_set: LabelSet,
    label_attribute: str | None = None,
    job_name: str | None = None,
) -> int:
    """Write a VOC folder at `dest`: images linked or copied into JPEGImages/, one XML each."""
    dest.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    count = 0
    for record in records:
        count += 1
        boxes = chosen_boxes(record, label_set, label_attribute)
        source = local_image(record.uri, "Pascal VOC")
        name = unique_name(source.name, taken)
        place_image(source, dest / IMAGES / name)
        size = record.size or probe(source).size
        with atomic_file(dest / ANNOTATIONS / f"{Path(name).stem}.xml") as out:
            out.write(voc_xml(name, size, boxes))
    return count
