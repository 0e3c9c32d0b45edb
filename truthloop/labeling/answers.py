"""A worker's answer, checked against the task before anything is stored.

What is stored is what the worker gave, minus confidences (a person's answer has none) and with
what the server can tell better than the client: the verdict's index in the job's categories,
and whether an adjustment changed the boxes it was shown.
"""

from __future__ import annotations

import math

from truthloop.core.geometry import BOX_SIZE_RULE, big_enough, inside
from truthloop.core.types import (
    Box,
    Boxes,
    Classification,
    ImageSize,
    MultiLabel,
    Value,
    Verification,
)
from truthloop.errors import BoxOutsideImage, InputError, UnknownLabel
from truthloop.labeling.jobs import TaskType

MAX_COMMENT_CHARS = 2000

_EXPECTED: dict[TaskType, type] = {
    TaskType.CLASSIFICATION: Classification,
    TaskType.MULTILABEL: MultiLabel,
    TaskType.BOUNDING_BOX: Boxes,
    TaskType.VERIFICATION: Verification,
    TaskType.ADJUSTMENT: Boxes,
}


def check_answer(
    answer: Value,
    *,
    task_type: TaskType,
    labels: tuple[str, ...],
    categories: tuple[str, ...],
    size: ImageSize | None,
    proposal: Value | None,
    where: str,
) -> Value:
    """The answer to store; InputError (UnknownLabel, BoxOutsideImage) says what is wrong,
    prefixed with `where` (the task)."""
    expected = _EXPECTED[task_type]
    if not isinstance(answer, expected):
        raise InputError(
            f"{where}: a {task_type} task is answered with {expected.__name__},"
            f" not {type(answer).__name__}"
        )
    match answer:
        case Classification(label=label):
            _known(label, labels, where)
            return Classification(label)
        case MultiLabel(labels=chosen):
            if not chosen:
                raise InputError(f"{where}: choose at least one label")
            for label in chosen:
                _known(label, labels, where)
            return MultiLabel(tuple(dict.fromkeys(chosen)))
        case Boxes(boxes=boxes):
            if size is None:
                raise InputError(f"{where}: the image size is unknown, so boxes cannot be checked")
            checked = tuple(_box(b, n, labels, size, where) for n, b in enumerate(boxes, 1))
            if task_type is TaskType.ADJUSTMENT:
                return Boxes(checked, adjusted=_shape(checked) != _shape(_boxes_of(proposal)))
            return Boxes(checked)
        case Verification(verdict=verdict, comments=comments):
            return _verification(answer, verdict, comments, categories, where)
    raise InputError(f"{where}: not an answer: {answer!r}")


def _known(label: str, labels: tuple[str, ...], where: str) -> None:
    if label not in labels:
        raise UnknownLabel(
            f"{where}: label {label!r} is not one of the job's labels {list(labels)}"
        )


def _box(box: Box, n: int, labels: tuple[str, ...], size: ImageSize, where: str) -> Box:
    _known(box.label, labels, where)
    edges = (box.left, box.top, box.width, box.height)
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in edges):
        raise InputError(f"{where}: box {n} ({box.label}) has coordinates that are not numbers")
    if not big_enough(box):
        raise InputError(
            f"{where}: box {n} ({box.label}) is {box.width}x{box.height} pixels; {BOX_SIZE_RULE}"
        )
    if not inside(box, size):
        raise BoxOutsideImage(
            f"{where}: box {n} ({box.label}) at left={box.left}, top={box.top},"
            f" width={box.width}, height={box.height} reaches outside the"
            f" {size.width}x{size.height} image; coordinates are image pixels from the top-left"
            " corner"
        )
    return Box(box.label, float(box.left), float(box.top), float(box.width), float(box.height))


def _boxes_of(proposal: Value | None) -> tuple[Box, ...]:
    return proposal.boxes if isinstance(proposal, Boxes) else ()


def _shape(boxes: tuple[Box, ...]) -> list[tuple[str, float, float, float, float]]:
    return sorted((b.label, b.left, b.top, b.width, b.height) for b in boxes)


def _verification(
    answer: Verification,
    verdict: str,
    comments: tuple[str, ...],
    categories: tuple[str, ...],
    where: str,
) -> Verification:
    if verdict not in categories:
        raise InputError(f"{where}: verdict {verdict!r} is not one of {list(categories)}")
    index = categories.index(verdict)
    if answer.verdict_id != index:
        raise InputError(
            f"{where}: verdict {verdict!r} is category {index}, not {answer.verdict_id}"
        )
    if not all(isinstance(c, str) for c in comments):
        raise InputError(f"{where}: comments must be text")
    kept = tuple(c.strip() for c in comments if c.strip())
    if any(len(c) > MAX_COMMENT_CHARS for c in kept):
        raise InputError(f"{where}: a comment is longer than {MAX_COMMENT_CHARS} characters")
    return Verification(verdict, index, comments=kept)
