"""The text rule of `truthloop.core.text` at the web's edge.

- `Line`, `Text` and `Label` are the string types of every request schema and form field: a
  refused character is a 422 whose location names the field (`labels.2: 'ca\\x00t' contains
  U+0000 (NUL)...`), and a label comes out in its one normal form (NFC).
- `refuse_bad_text` is an app-wide dependency that applies the rule to every URL path and
  query parameter (single-line) and every form field (multi-line at least) before any route
  or lookup runs, so a NUL in `/api/datasets/a%00b` or in a sign-in form is a 422, never a
  database error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Request
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from truthloop.core.text import (
    LINE,
    TEXT,
    TextKind,
    character_name,
    normal_label,
    refusal,
    text_problem,
)
from truthloop.errors import InputError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SECRET_FIELDS = frozenset({"password", "repeat", "csrf_token"})


def _refusing(kind: TextKind) -> Callable[[str], str]:
    def check(value: str) -> str:
        if problem := refusal(value, kind):
            # The problem goes in as context: a template would read braces in the value.
            raise PydanticCustomError("text_refused", "{problem}", {"problem": problem})
        return value

    return check


Line = Annotated[str, AfterValidator(_refusing(LINE))]
"""Single-line text: names, display names, token names, e-mail addresses."""
Text = Annotated[str, AfterValidator(_refusing(TEXT))]
"""Multi-line text: descriptions, instructions, comments (tab and newlines allowed)."""
Label = Annotated[str, AfterValidator(_refusing(LINE)), AfterValidator(normal_label)]
"""A label or category: single-line, in NFC."""


async def refuse_bad_text(request: Request) -> None:
    """Refuses a request whose URL parameters or form fields hold text the rule refuses."""
    url_params = [*request.path_params.items(), *request.query_params.multi_items()]
    for key, value in url_params:
        if isinstance(value, str) and (problem := text_problem(f"the URL's {key}", value)):
            raise InputError(problem)
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        # Starlette parses the form once per request; the route's Form() fields reuse it.
        for key, value in (await request.form()).multi_items():
            if isinstance(value, str) and (problem := _form_problem(key, value)):
                raise InputError(problem)


def _form_problem(key: str, value: str) -> str | None:
    if key not in SECRET_FIELDS:
        return text_problem(f"form field {key}", value, TEXT)
    # A password is never echoed back, not even to the one who typed it.
    found = TEXT.value.search(value)
    return f"form field {key} contains {character_name(found.group())}" if found else None
