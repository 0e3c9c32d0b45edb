"""Which characters text from outside may hold, and the one form a label takes.

Every kind of text a user gives — a name, a label, a description, instructions, a URI in a
manifest — is checked against one of three rules here, at the edge where it enters (REST
schemas, forms, URL parameters, the CLI, the format readers), so that no layer finds out later:

- `LINE` (names, labels, display names, URIs, token names): no control character at all
  (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F), no line or paragraph separator
  (U+2028/U+2029), and no bidirectional embedding, override or isolate (U+202A–U+202E,
  U+2066–U+2069), which make text display in another order than it is stored ("Trojan
  Source"): a label that reads `cat` on screen but is not `cat` in the data.
- `TEXT` (instructions, descriptions, comments): the same, except that tab, newline and
  carriage return are allowed.
- `STORED` (values passed through untouched, such as a manifest's extra keys): only what no
  database can store — NUL (PostgreSQL text refuses it) and lone surrogates (not UTF-8).

Lone surrogates (U+D800–U+DFFF) are refused by every rule: JSON can spell them (`"\\ud800"`),
but they cannot be encoded in UTF-8, so neither PostgreSQL nor a file could hold them.
The left-to-right and right-to-left marks (U+200E/U+200F) are allowed: they only say which way
a neutral character runs, and text in Hebrew or Arabic needs them.

Labels are also normalised to NFC, so that `café` typed as one code point and as `e` plus a
combining accent (NFD, as macOS file names and some keyboards give it) are one label.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

_SURROGATES = "\ud800-\udfff"
_BIDI = "\u202a-\u202e\u2066-\u2069"


class TextKind(Enum):
    """What a piece of text is for, which decides the characters it may hold."""

    LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_SURROGATES}]")
    TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029{_BIDI}{_SURROGATES}]")
    STORED = re.compile(f"[\x00{_SURROGATES}]")


LINE = TextKind.LINE
TEXT = TextKind.TEXT
STORED = TextKind.STORED

# unicodedata has no names for control characters; these are the ones people meet.
_CONTROL_NAMES = {
    0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED",
    0x0B: "VERTICAL TAB", 0x0C: "FORM FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESC",
    0x7F: "DEL",
}
_SHOWN_CHARS = 40


def character_name(char: str) -> str:
    """`U+0000 (NUL)`: the code point, and its name where it has one."""
    code = ord(char)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(char, "")
    if not name:
        name = "a surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"U+{code:04X} ({name})"


def shown(value: str) -> str:
    """`value` as a message quotes it: escaped (repr), and cut short when long."""
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + "..."


def refusal(value: str, kind: TextKind = LINE) -> str | None:
    """Why `value` may not be `kind` of text, without naming the field; None when it may."""
    # `_value_`, not `value`: the Enum property costs more than the search on a short text.
    found = kind._value_.search(value)
    if found is None:
        return None
    return (
        f"{shown(value)} contains {character_name(found.group())} at character"
        f" {found.start() + 1}, which is not allowed"
    )


def text_problem(field: str, value: str, kind: TextKind = LINE) -> str | None:
    """Why `value` may not be the `field` (a `kind` of text), or None when it may.

    >>> text_problem("label", "ca\\x00t")
    "label 'ca\\\\x00t' contains U+0000 (NUL) at character 3, which is not allowed"
    """
    problem = refusal(value, kind)
    return None if problem is None else f"{field} {problem}"


def normal_label(label: str) -> str:
    """The one form of a label: Unicode NFC (a label is compared and stored in this form)."""
    # is_normalized is a fast check; most labels are ASCII and already normal.
    if unicodedata.is_normalized("NFC", label):
        return label
    return unicodedata.normalize("NFC", label)


def label_problem(label: str, field: str = "label") -> str | None:
    """Why `label` cannot be a label (it holds a control or bidi character), or None."""
    return text_problem(field, label, LINE)
