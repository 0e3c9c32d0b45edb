"""Server-rendered pages: one Jinja2 environment with autoescape on for every template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from truthloop import people
from truthloop.storage.tables import UserRow
from truthloop.web.auth import csrf_token

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

# autoescape=True for every file, whatever its extension: a label, a name or a description is
# always text on a page, never markup.
environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
)


def render(
    request: Request,
    template: str,
    user: UserRow | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = environment.get_template(template).render(
        request=request,
        user=user,
        is_manager=user is not None and people.is_manager(user),
        csrf_token=csrf_token(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})
