"""Errors as answers: JSON under /api, a readable page elsewhere, and a redirect to the sign-in
form when a page needs a signed-in user."""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException

from truthloop.errors import (
    AlreadyExists,
    CsrfRejected,
    InputError,
    InvalidName,
    LeaseExpired,
    NotFound,
    NotSignedIn,
    PermissionDenied,
    TruthloopError,
)
from truthloop.web.templating import render

STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (PermissionDenied, 403),
    (AlreadyExists, 409),
    (LeaseExpired, 409),
    (InvalidName, 422),
    (InputError, 422),
    (TruthloopError, 400),
]
log = logging.getLogger(__name__)
CSRF_MESSAGE = (
    "this request did not carry the page's security token (CSRF): reload the page and try again"
)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def answer(request: Request, status: int, error: str, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": error, "detail": message}, status_code=status)
    return render(
        request, "error.html", None, status_code=status, status=status, message=message
    )


def _truthloop_error(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in STATUS if isinstance(exc, kind))
    return answer(request, status, type(exc).__name__, public_message(str(exc)))


# A server path: a slash-separated absolute path (not the `//` of a URI such as s3://b/k).
_SERVER_PATH = re.compile(r"(?<![\w/.:~-])/(?:[^\s'\"/<>]+/)+([^\s'\"/<>,;:)]*)")
# A Python object's repr with its address, "<Thing object at 0x7f...>", or a bare address.
_OBJECT = re.compile(r"<([^<>]*?) at 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def public_message(message: str) -> str:
    """`message` as an HTTP answer may show it: a server path cut to its file name and
    no object address. Errors are written for the CLI's user, who owns the machine; over HTTP
    the same words must not map the server's folders (or its memory) for anyone who asks.
    """
    message = _OBJECT.sub(r"<\1>", message)
    message = _ADDRESS.sub("0x…", message)
    return _SERVER_PATH.sub(_file_name_if_local, message)


def _file_name_if_local(found: re.Match[str]) -> str:
    # Only a path whose top folder exists here is the server's: `/api/models/x/start` in a
    # message tells the user what to call, and stays as it is.
    top = found.group(0).split("/", 2)[1]
    return found.group(1) if os.path.isdir("/" + top) else found.group(0)


def _not_signed_in(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": "NotSignedIn", "detail": str(exc) or "sign in first"},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _csrf(request: Request, exc: Exception) -> Response:
    return answer(request, 403, "CsrfRejected", CSRF_MESSAGE)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail) if exc.status_code != 404 else f"nothing at {request.url.path}"
    return answer(request, exc.status_code, "HTTPError", message)


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
    )
    return answer(request, 422, "ValidationError", problems)


def _database(request: Request, exc: Exception) -> Response:
    """The safety net behind the edge checks (core.text): a value the database refuses is the
    client's fault, anything else ours; neither answer carries a traceback or the SQL."""
    assert isinstance(exc, DBAPIError)
    log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
    if isinstance(exc, DataError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "a value is not valid"
        return answer(request, 422, "DataError", f"the database refused a value: {reason}")
    return answer(request, 500, "InternalError", "internal error: the database failed; try again")


def install(app: FastAPI) -> None:
    app.add_exception_handler(TruthloopError, _truthloop_error)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(CsrfRejected, _csrf)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DBAPIError, _database)
