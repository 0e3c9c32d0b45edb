"""One Ground Truth label attribute pair (`K` and `K-metadata`) ⇄ one Annotation.

The field names and value types follow FORMATS.md §1.2. Metadata keys this module does not model
are kept in `Annotation.metadata` and written back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from truthloop.core.geometry import MIN_BOX_SIDE
from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageSize,
    LabelSet,
    MultiLabel,
    Source,
    Value,
    Verification,
)
from truthloop.errors import FormatError, InvalidAttribute, NotWritable, UnknownLabel
from truthloop.formats import validate

CLASSIFICATION = "groundtruth/image-classification"
MULTILABEL = "groundtruth/image-classification-multilabel"
BOXES = "groundtruth/object-detection"
VERIFICATION = "groundtruth/label-verification"
TYPES = (CLASSIFICATION, MULTILABEL, BOXES, VERIFICATION)

_PROVENANCE_KEYS = ("type", "job-name", "human-annotated", "creation-date")
_VALUE_KEYS = {
    CLASSIFICATION: ("class-name", "confidence"),
    MULTILABEL: ("class-map", "confidence-map"),
    BOXES: ("class-map", "objects", "adjustment-status"),
    VERIFICATION: ("class-name", "confidence", "worker-feedback"),
}
# The metadata keys a value and its provenance are read from; the rest is kept as it came.
_MODELED = {kind: frozenset(_PROVENANCE_KEYS + keys) for kind, keys in _VALUE_KEYS.items()}
_ADJUSTMENT = {"adjusted": True, "unadjusted": False}
_LTWH = ("left", "top", "width", "height")


@dataclass(frozen=True, slots=True)
class ParsedPair:
    """An annotation, the classes (name → id) its metadata named, and the image size if given."""

    annotation: Annotation
    classes: Mapping[str, int]
    size: ImageSize | None = None


def metadata_key(attribute: str) -> str:
    return f"{attribute}-metadata"


def pair_type(metadata: Any) -> str | None:
    """The `type` of a metadata object when truthloop models it, else None."""
    kind = metadata.get("type") if isinstance(metadata, dict) else None
    return kind if kind in TYPES else None


def check_attribute(attribute: str) -> None:
    """Refuse a label attribute name Ground Truth would refuse (FORMATS.md §1.1)."""
    if (
        not attribute
        or attribute.startswith("$")
        or attribute.endswith(("-metadata", "-ref"))
        or attribute in ("source", "source-ref")
    ):
        raise InvalidAttribute(
            f"{attribute!r} cannot be a label attribute name: it must be non-empty, not start "
            "with '$', not end in '-metadata' or '-ref', and not be 'source' or 'source-ref'"
        )


# --- reading ---------------------------------------------------------------------------------


def _created_at(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(validate.text(value, what))
    except ValueError:
        raise FormatError(f"{what} is not an ISO date and time: {validate.show(value)}") from None


def _source(value: Any, what: str) -> Source:
    if value is None or value == "yes":
        return Source.HUMAN
    if value == "no":
        return Source.MODEL
    raise FormatError(f"{what} must be 'yes' or 'no', not {validate.show(value)}")


# Class maps already read, by their (key, name) pairs: a manifest repeats a few of them on
# every line. Only maps that passed are kept, and a name can equal only a string, so a map
# found here is one that passes. Callers do not change the map they get.
_CLASS_MAPS: dict[tuple[tuple[str, Any], ...], dict[int, str]] = {}
_CLASS_MAPS_KEPT = 1024


def _class_map(meta: dict[str, Any], what: str) -> dict[int, str]:
    raw = validate.mapping(meta.get("class-map"), f"{what}.class-map")
    key: tuple[tuple[str, Any], ...] | None = tuple(raw.items())
    try:
        found = _CLASS_MAPS.get(key)  # type: ignore[arg-type]
    except TypeError:  # a name that is a list or an object: refused below
        key, found = None, None
    if found is not None:
        return found
    class_map = {
        validate.integer(k, f"{what}.class-map key"): validate.text(name, f"{what}.class-map")
        for k, name in raw.items()
    }
    if key is not None:
        if len(_CLASS_MAPS) >= _CLASS_MAPS_KEPT:
            _CLASS_MAPS.clear()
        _CLASS_MAPS[key] = class_map
    return class_map


def _name(class_map: dict[int, str], class_id: int, what: str) -> str:
    try:
        return class_map[class_id]
    except KeyError:
        raise FormatError(f"{what}: class id {class_id} is missing from class-map") from None


def _optional_confidence(value: Any, what: str) -> float | None:
    return None if value is None else validate.confidence(value, what)


def _classification(value: Any, meta: dict[str, Any], what: str) -> tuple[Value, dict[str, int]]:
    name = validate.text(meta.get("class-name"), f"{what}-metadata.class-name")
    class_id = validate.integer(value, what)
    score = _optional_confidence(meta.get("confidence"), f"{what}-metadata.confidence")
    return Classification(name, score), {name: class_id}


def _multilabel(value: Any, meta: dict[str, Any], what: str) -> tuple[Value, dict[str, int]]:
    class_map = _class_map(meta, f"{what}-metadata")
    ids = [validate.integer(i, f"{what}[]") for i in validate.array(value, what)]
    scores = validate.mapping(meta.get("confidence-map", {}), f"{what}-metadata.confidence-map")
    confidences = tuple(
        _optional_confidence(scores.get(str(i)), f"{what}-metadata.confidence-map[{i}]")
        for i in ids
    )
    labels = tuple(_name(class_map, i, what) for i in ids)
    kept = confidences if any(c is not None for c in confidences) else ()
    return MultiLabel(labels, kept), {name: i for i, name in class_map.items()}


def _image_size(value: dict[str, Any], what: str) -> ImageSize | None:
    if "image_size" not in value:
        return None
    sizes = validate.array(value["image_size"], f"{what}.image_size")
    size = validate.mapping(sizes[0] if sizes else None, f"{what}.image_size[0]")
    width = validate.integer(size.get("width"), f"{what}.image_size[0].width")
    height = validate.integer(size.get("height"), f"{what}.image_size[0].height")
    depth = validate.integer(size.get("depth", 3), f"{what}.image_size[0].depth")
    if width <= 0 or height <= 0 or depth <= 0:
        raise FormatError(f"{what}.image_size[0] must be positive, not {width}x{height}x{depth}")
    return ImageSize(width, height, depth)


def _boxes(value: Any, meta: dict[str, Any], what: str) -> tuple[Value, dict[str, int]]:
    value = validate.mapping(value, what)
    class_map = _class_map(meta, f"{what}-metadata")
    items = validate.array(value.get("annotations", []), f"{what}.annotations")
    objects = validate.array(meta.get("objects", [{}] * len(items)), f"{what}-metadata.objects")
    if len(objects) != len(items):
        raise FormatError(
            f"{what}-metadata.objects has {len(objects)} entries for {len(items)} annotations"
        )
    boxes = []
    # Millions of boxes pass here: checks name fields relative to the box, and the box's own
    # place is put in front only when one fails.
    for n, (item, obj) in enumerate(zip(items, objects, strict=True)):
        box = _plain_box(item, obj, class_map)
        if box is not None:
            boxes.append(box)
            continue
        try:
            score = _optional_confidence(validate.mapping(obj, "").get("confidence"), ".confidence")
        except FormatError as error:
            raise error.within(f"{what}-metadata.objects[{n}]") from None
        try:
            item = validate.mapping(item, "")
            label = _name(class_map, validate.integer(item.get("class_id"), ".class_id"), "")
            left, top = item.get("left"), item.get("top")
            width, height = item.get("width"), item.get("height")
            boxes.append(validate.box(label, left, top, width, height, "", score))
        except FormatError as error:
            raise error.within(f"{what}.annotations[{n}]") from None
    status = meta.get("adjustment-status")
    if status is not None and status not in _ADJUSTMENT:
        raise FormatError(
            f"{what}-metadata.adjustment-status must be 'adjusted' or 'unadjusted', "
            f"not {validate.show(status)}"
        )
    adjusted = None if status is None else _ADJUSTMENT[status]
    return Boxes(tuple(boxes), adjusted), {name: i for i, name in class_map.items()}


def _plain_box(item: Any, obj: Any, class_map: dict[int, str]) -> Box | None:
    """The box of a well-formed annotation (integer class id, finite numbers, a confidence
    between 0 and 1 or none, sides of at least MIN_BOX_SIDE), as the checks in `_boxes` make
    it, at a fraction of their cost; None for anything else, which those checks then judge."""
    if type(item) is not dict or type(obj) is not dict:
        return None
    score = obj.get("confidence")
    if score is not None and not (type(score) is float and 0.0 <= score <= 1.0):
        return None
    class_id = item.get("class_id")
    label = class_map.get(class_id) if type(class_id) is int else None
    if label is None:
        return None
    left, top = _plain_number(item.get("left")), _plain_number(item.get("top"))
    width, height = _plain_number(item.get("width")), _plain_number(item.get("height"))
    if (
        left is None
        or top is None
        or width is None
        or height is None
        or not (width >= MIN_BOX_SIDE and height >= MIN_BOX_SIDE)
    ):
        return None
    return Box(label, left, top, width, height, score)


def _plain_number(value: Any) -> float | None:
    """`validate.number(value)` when it passes, else None."""
    if type(value) is int:
        return float(value)
    if type(value) is float and value - value == 0.0:  # neither infinite nor NaN
        return value
    return None


def _verification(value: Any, meta: dict[str, Any], what: str) -> tuple[Value, dict[str, int]]:
    verdict = validate.text(meta.get("class-name"), f"{what}-metadata.class-name")
    feedback = validate.array(meta.get("worker-feedback", []), f"{what}-metadata.worker-feedback")
    comments = tuple(
        validate.text(
            validate.mapping(item, f"{what}-metadata.worker-feedback[{n}]").get("comment"),
            f"{what}-metadata.worker-feedback[{n}].comment",
        )
        for n, item in enumerate(feedback)
    )
    score = _optional_confidence(meta.get("confidence"), f"{what}-metadata.confidence")
    return Verification(verdict, validate.integer(value, what), score, comments), {}


_PARSERS = {
    CLASSIFICATION: _classification,
    MULTILABEL: _multilabel,
    BOXES: _boxes,
    VERIFICATION: _verification,
}


def parse_pair(attribute: str, value: Any, metadata: Any) -> ParsedPair:
    """The annotation stored under `attribute`; raises FormatError naming the bad field."""
    meta = validate.mapping(metadata, metadata_key(attribute))
    kind = pair_type(meta)
    if kind is None:
        raise FormatError(
            f"{attribute}-metadata.type must be one of {', '.join(TYPES)}, "
            f"not {validate.show(meta.get('type'))}"
        )
    parsed, classes = _PARSERS[kind](value, meta, attribute)
    job = meta.get("job-name")
    annotation = Annotation(
        parsed,
        source=_source(meta.get("human-annotated"), f"{attribute}-metadata.human-annotated"),
        attribute=attribute,
        job_name=None if job is None else validate.text(job, f"{attribute}-metadata.job-name"),
        created_at=_created_at(meta.get("creation-date"), f"{attribute}-metadata.creation-date"),
        metadata={k: v for k, v in meta.items() if k not in _MODELED[kind]},
    )
    size = _image_size(value, attribute) if kind == BOXES else None
    return ParsedPair(annotation, classes, size)


# --- writing ---------------------------------------------------------------------------------


def class_id_of(label_set: LabelSet, name: str, uri: str) -> int:
    """The id of `name` for writing the record at `uri`; UnknownLabel when the set lacks it."""
    if name not in label_set:
        raise UnknownLabel(f"{uri}: label {name!r} is not in the label set {list(label_set.names)}")
    return label_set.id_of(name)


def _plain(x: float) -> int | float:
    """Whole numbers as JSON integers, as Ground Truth writes pixels; fractions stay exact."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def _iso(when: datetime) -> str:
    # Ground Truth writes naive UTC times with microseconds.
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds")


def _value_and_meta(
    value: Any, label_set: LabelSet, size: ImageSize | None, uri: str
) -> tuple[Any, dict[str, Any], str]:
    meta: dict[str, Any]
    match value:
        case Classification(label=label, confidence=score):
            meta = {"class-name": label} | ({} if score is None else {"confidence": score})
            return class_id_of(label_set, label, uri), meta, CLASSIFICATION
        case MultiLabel(labels=labels, confidences=scores):
            ids = [class_id_of(label_set, name, uri) for name in labels]
            meta = {"class-map": {str(i): name for i, name in zip(ids, labels, strict=True)}}
            if scores:
                meta["confidence-map"] = {
                    str(i): s for i, s in zip(ids, scores, strict=True) if s is not None
                }
            return ids, meta, MULTILABEL
        case Boxes(boxes=boxes, adjusted=adjusted):
            if size is None:
                raise NotWritable(f"{uri}: boxes need the image size, and the record has none")
            ids = [class_id_of(label_set, b.label, uri) for b in boxes]
            drawn = {
                "image_size": [{"width": size.width, "height": size.height, "depth": size.depth}],
                "annotations": [
                    {"class_id": i} | {k: _plain(getattr(b, k)) for k in _LTWH}
                    for i, b in zip(ids, boxes, strict=True)
                ],
            }
            meta = {
                "objects": [
                    {} if b.confidence is None else {"confidence": b.confidence} for b in boxes
                ],
                "class-map": {str(i): b.label for i, b in zip(ids, boxes, strict=True)},
            }
            if adjusted is not None:
                meta["adjustment-status"] = "adjusted" if adjusted else "unadjusted"
            return drawn, meta, BOXES
        case Verification(verdict=verdict, verdict_id=verdict_id, confidence=score):
            meta = {"class-name": verdict} | ({} if score is None else {"confidence": score})
            if value.comments:
                meta["worker-feedback"] = [{"comment": c} for c in value.comments]
            return str(verdict_id), meta, VERIFICATION
    raise TypeError(f"not an annotation value: {value!r}")


def build_pair(
    annotation: Annotation,
    *,
    label_set: LabelSet,
    size: ImageSize | None,
    uri: str,
    job_name: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The label value and `-metadata` object Ground Truth writes for `annotation`.

    `job_name` is used when the annotation does not carry its own.
    """
    value, meta, kind = _value_and_meta(annotation.value, label_set, size, uri)
    meta["type"] = kind
    job = annotation.job_name or job_name
    if job is not None:
        meta["job-name"] = job
    meta["human-annotated"] = "yes" if annotation.human else "no"
    if annotation.created_at is not None:
        meta["creation-date"] = _iso(annotation.created_at)
    for key, item in annotation.metadata.items():
        meta.setdefault(key, item)
    return value, meta
