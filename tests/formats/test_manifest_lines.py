from __future__ import annotations

import io
from pathlib import Path

import pytest

from truthloop.errors import FormatError, InputError
from truthloop.formats.manifest_lines import MAX_LINE_CHARS, read_json_lines


def test_bom_crlf_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n   \n{"b": "\xc3\xa9"}\r\n{"c": 3}')
    assert list(read_json_lines(path)) == [(1, {"a": 1}), (4, {"b": "é"}), (5, {"c": 3})]


def test_streams_binary_and_text() -> None:
    assert list(read_json_lines(io.BytesIO(b'{"a":1}\n'))) == [(1, {"a": 1})]
    assert list(read_json_lines(io.StringIO('\ufeff{"a":1}\n'), path="s")) == [(1, {"a": 1})]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'{"a": 1', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not a list"),
        (b'"text"', "must be a JSON object, not a str"),
        (b'{"$a": 1}', "starts with '\\$'"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
    ],
)
def test_a_bad_line_names_the_file_and_line(tmp_path: Path, line: bytes, why: str) -> None:
    path = tmp_path / "m.manifest"
    path.write_bytes(b'{"ok": 1}\n' + line + b"\n")
    with pytest.raises(FormatError, match=why) as caught:
        list(read_json_lines(path))
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    assert str(caught.value).startswith(f"{path}:2: ")


def test_on_error_skips_the_bad_line_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest"
    path.write_bytes(b'{"a": 1}\nnot json\n{"b": 2}\n')
    errors: list[InputError] = []
    assert list(read_json_lines(path, on_error=errors.append)) == [(1, {"a": 1}), (3, {"b": 2})]
    assert [e.line for e in errors] == [2]


def test_overlong_lines_are_refused_without_reading_them_whole(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest"
    at_limit = '{"a": "' + "x" * (MAX_LINE_CHARS - 9) + '"}'
    # Two-byte characters: within the limit in characters though over it in bytes.
    wide = '{"a": "' + "é" * (MAX_LINE_CHARS - 9) + '"}'
    huge = "x" * (10 * MAX_LINE_CHARS)
    path.write_text("\n".join([at_limit, wide, huge, at_limit + " ", '{"z": 0}']) + "\n")
    errors: list[InputError] = []
    got = [n for n, _ in read_json_lines(path, on_error=errors.append)]
    assert got == [1, 2, 5]
    assert [(e.line, "longer than 100000 characters" in str(e)) for e in errors] == [
        (3, True),
        (4, True),
    ]
