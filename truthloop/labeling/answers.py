"""A worker's answer, checked against the task before anything is stored.

What is stored is what the worker gave, minus confidences (a person's answer has none) and with
what the server can tell better than the client: the verdict's index in the job's categories,
and whether an adjustment changed the boxes it was shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from truthloop.core.geometry import BOX_SIZE_RULE, big_enough, inside
from truthloop.core.text import TEXT, text_problem
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
# A custom task page's answer: the form's output, as A2I keeps it in `answerContent`. A box
# drawn is about 80 bytes of it, so a megabyte holds thousands of boxes and comments.
MAX_FORM_ANSWER_BYTES = 1_000_000

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


def check_form_answer(answer: object, *, where: str) -> dict[str, Any]:
    """The output of a custom task page's form, to store as given: a JSON object of at most
    MAX_FORM_ANSWER_BYTES whose texts hold no NUL or control characters (line breaks and tabs
    of a text area are kept)."""
    if not isinstance(answer, Mapping):
        raise InputError(f"{where}: the answer is the form's output, a JSON object")
    try:
        encoded = orjson.dumps(answer)
    except TypeError as error:
        raise InputError(f"{where}: the answer is not plain JSON ({error})") from None
    if len(encoded) > MAX_FORM_ANSWER_BYTES:
        raise InputError(
            f"{where}: the answer is {len(encoded):,} bytes; at most"
            f" {MAX_FORM_ANSWER_BYTES:,} are kept"
        )
    _check_texts(answer, where, "answer")
    return dict(orjson.loads(encoded))


def _check_texts(value: object, where: str, path: str) -> None:
    if isinstance(value, str):
        if problem := text_problem(path, value, TEXT):
            raise InputError(f"{where}: {problem}")
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _check_texts(key, where, f"{path} key")
            _check_texts(inner, where, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for n, inner in enumerate(value):
            _check_texts(inner, where, f"{path}[{n}]")
