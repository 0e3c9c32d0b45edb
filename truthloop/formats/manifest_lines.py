"""The one JSON Lines reader under every manifest format, streaming with bounded memory.

Enforces Ground Truth's input rules (FORMATS.md §1.1): one JSON object per line, `\\n` or
`\\r\\n`, UTF-8 (a leading BOM is tolerated), at most 100,000 characters a line, and no attribute
name starting with `$`. Blank lines are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import orjson

from truthloop.errors import FormatError, InputError
from truthloop.formats.base import ErrorHandler, report

MAX_LINE_CHARS = 100_000
# A character is at most 4 bytes in UTF-8, so a line within the limit fits in this many bytes
# (plus its line ending); reading more than that is never needed to refuse a line.
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS + 2
_BOM = "\ufeff"


def _skip_rest_of_line(stream: IO[Any]) -> None:
    while True:
        chunk = stream.readline(_MAX_LINE_BYTES)
        if not chunk or chunk[-1:] in (b"\n", "\n"):
            return


def _raw_lines(stream: IO[Any]) -> Iterator[tuple[int, bytes | str | None]]:
    """(line number, content without its line ending), or None content for an overlong line."""
    number = 0
    while raw := stream.readline(_MAX_LINE_BYTES):
        number += 1
        ended = raw[-1:] in (b"\n", "\n")
        if not ended and len(raw) >= _MAX_LINE_BYTES:
            _skip_rest_of_line(stream)
            yield number, None
            continue
        raw = raw.rstrip(b"\r\n" if isinstance(raw, bytes) else "\r\n")
        if number == 1:
            raw = raw.removeprefix(_BOM.encode() if isinstance(raw, bytes) else _BOM)
        yield number, raw


def _parse(raw: bytes | str | None) -> dict[str, Any] | None:
    """The line's object; None for a blank line."""
    if raw is None or (len(raw) > MAX_LINE_CHARS and len(_text(raw)) > MAX_LINE_CHARS):
        raise FormatError(f"the line is longer than {MAX_LINE_CHARS} characters")
    if not raw.strip():
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"the line is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise FormatError(f"the line must be a JSON object, not a {type(obj).__name__}")
    for key in obj:
        if key.startswith("$"):
            raise FormatError(f"attribute name {key!r} starts with '$', which is not allowed")
    return obj


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


# A line of printable ASCII without a backslash: no string in its object can hold a character
# any text rule refuses (core.text), since JSON could spell one only escaped or as itself.
_PLAIN_BYTES = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")
_PLAIN_TEXT = re.compile("[\x20-\x5b\x5d-\x7e]*")


def read_json_lines(
    source: Path | str | IO[bytes] | IO[str],
    *,
    path: str | None = None,
    on_error: ErrorHandler | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (1-based line number, object) for each non-blank line of a file or open stream.

    A bad line raises FormatError carrying `path` (default: the file's own path) and its line;
    with `on_error` the error goes there and reading continues with the next line.
    """
    for number, obj, _ in read_marked_json_lines(source, path=path, on_error=on_error):
        yield number, obj


def read_marked_json_lines(
    source: Path | str | IO[bytes] | IO[str],
    *,
    path: str | None = None,
    on_error: ErrorHandler | None = None,
) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """`read_json_lines`, each object with whether its line was plain: printable ASCII with
    no backslash, so that none of its strings needs the text rule's check (formats.checked)."""
    with ExitStack() as stack:
        if isinstance(source, Path | str):
            path = path or str(source)
            stream: IO[Any] = stack.enter_context(open(source, "rb"))
        else:
            stream = source
        for number, raw in _raw_lines(stream):
            try:
                obj = _parse(raw)
            except InputError as error:
                report(error.at(path, number), on_error)
                continue
            if obj is not None:
                if isinstance(raw, bytes):
                    plain = _PLAIN_BYTES.fullmatch(raw) is not None
                else:
                    plain = raw is not None and _PLAIN_TEXT.fullmatch(raw) is not None
                yield number, obj, plain
