"""Checks readers share, so every format refuses malformed values with the same clear words.

Each takes the raw value and `what` (where in the item it sits, e.g. "bb.annotations[2].width")
and returns the value in its Python type, or raises FormatError. Readers add file and line.
"""

from __future__ import annotations

import math
from typing import Any

from truthloop.core.geometry import BOX_SIZE_RULE, big_enough
from truthloop.core.types import Box
from truthloop.errors import FormatError


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# The exact-type tests first in `number` and `integer` answer the common case without the
# general isinstance tests (bool is an int): readers call these a dozen times per line.


def number(value: Any, what: str) -> float:
    if type(value) is int:
        return float(value)
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"{what} must be a number, not {show(value)}")
    if not math.isfinite(value):
        raise FormatError(f"{what} must be a finite number, not {show(value)}")
    return float(value)


def confidence(value: Any, what: str) -> float:
    score = number(value, what)
    if not 0.0 <= score <= 1.0:
        raise FormatError(f"{what} must be between 0 and 1, not {show(value)}")
    return score


def integer(value: Any, what: str) -> int:
    """An integer, also when written as a string of digits (Ground Truth writes both)."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{what} must be an integer, not {show(value)}")
    return value


def text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise FormatError(f"{what} must be a non-empty string, not {show(value)}")
    return value


def mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{what} must be a JSON object, not {show(value)}")
    return value


def array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise FormatError(f"{what} must be a list, not {show(value)}")
    return value


def box(
    label: str,
    left: Any,
    top: Any,
    width: Any,
    height: Any,
    what: str,
    score: float | None = None,
) -> Box:
    """A Box from raw values; it may lie partly outside the image (the importer decides)."""
    try:
        box = Box(
            label,
            number(left, " left"),
            number(top, " top"),
            number(width, " width"),
            number(height, " height"),
            score,
        )
    except FormatError as error:
        raise error.within(what) from None
    if not big_enough(box):
        raise FormatError(f"{what} is {box.width}x{box.height} pixels; {BOX_SIZE_RULE}")
    return box
