"""The text rule of `truthloop.core.text`, applied to every record any reader yields.

Readers differ in where a label, a URI or an attribute name sits in their files, but they all
yield `ImageRecord`s, so the check is made once here, on the record, for every format: a NUL
or a bidirectional override in a label, a URI, an attribute name or a passed-through value is
a FormatError naming the file and line (or item) it came from, never a database error later.
Labels arrive already in NFC: the value types normalise them (`core.types`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from truthloop.core.text import LINE, STORED, TEXT, TextKind, label_problem, text_problem
from truthloop.core.types import Annotation, ImageRecord, LabelSet, Verification, label_names
from truthloop.errors import FormatError
from truthloop.formats.base import ErrorHandler, Reader, report


class CheckedReader:
    """`reader`, yielding only records whose text passes the rule; the others are reported
    (raised, or handed to `on_error`) located where the reader read them."""

    def __init__(self, reader: Reader, on_error: ErrorHandler | None) -> None:
        self.reader = reader
        self.on_error = on_error

    @property
    def location(self) -> str:
        return self.reader.location

    @property
    def path(self) -> object:
        return getattr(self.reader, "path", None)

    @property
    def label_set(self) -> LabelSet:
        # A class name no record may use (a COCO category, a YOLO class line) must not reach
        # the dataset's label set either.
        found = self.reader.label_set
        if all(label_problem(name) is None for name in found.ids):
            return found
        return LabelSet({n: i for n, i in found.ids.items() if label_problem(n) is None})

    def __iter__(self) -> Iterator[ImageRecord]:
        reader = self.reader
        for record in reader:
            # A reader may say that the text of the record it read last is all plain (Ground
            # Truth: a line of printable ASCII without escapes); then only the URI can fail.
            if getattr(reader, "plain_text", False):
                problem = text_problem("image URI", record.uri, LINE)
            else:
                problem = record_problem(record)
            if problem is not None:
                report(FormatError(problem).at(self.reader.location), self.on_error)
                continue
            yield record


def record_problem(record: ImageRecord) -> str | None:
    """The first text in `record` the rule refuses, said with where it sits; or None."""
    problem = text_problem("image URI", record.uri, LINE) or _stored_problem(
        "extra key", record.extra
    )
    for annotation in record.annotations:
        problem = problem or _annotation_problem(annotation)
    return problem


def _annotation_problem(annotation: Annotation) -> str | None:
    for field, value in (
        ("label attribute", annotation.attribute),
        ("job name", annotation.job_name),
        ("worker", annotation.worker),
    ):
        if value is not None and (problem := text_problem(field, value, LINE)):
            return problem
    for label in label_names(annotation.value):
        if problem := label_problem(label):
            return problem
    if not annotation.metadata and not isinstance(annotation.value, Verification):
        return None
    verification = annotation.value
    if isinstance(verification, Verification):
        checks: list[tuple[str, str, TextKind]] = [("verdict", verification.verdict, LINE)]
        checks += [("comment", comment, TEXT) for comment in verification.comments]
        for field, text, kind in checks:
            if problem := text_problem(field, text, kind):
                return problem
    return _stored_problem(f"{annotation.attribute or 'label'} metadata", annotation.metadata)


def _stored_problem(field: str, value: Any) -> str | None:
    """What in a passed-through JSON value (keys included) cannot be stored."""
    bad = _unstorable(value)
    return None if bad is None else text_problem(field, bad, STORED)


def _unstorable(value: Any) -> str | None:
    """The first string in `value` (keys included) that no database can store, or None."""
    if isinstance(value, str):
        return value if STORED.value.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if (bad := _unstorable(key)) or (bad := _unstorable(item)):
                return bad
    elif isinstance(value, list | tuple):
        for item in value:
            if bad := _unstorable(item):
                return bad
    return None
