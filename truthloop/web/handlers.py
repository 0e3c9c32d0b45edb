"""Errors as answers: JSON under /api, a readable page elsewhere, and a redirect to the sign-in
form when a page needs a signed-in user."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from truthloop.errors import (
    AlreadyExists,
    InputError,
    InvalidName,
    LeaseExpired,
    NotFound,
    PermissionDenied,
    TruthloopError,
)
from truthloop.web.auth import CsrfRejected, NotSignedIn
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
    return answer(request, status, type(exc).__name__, str(exc))


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


def install(app: FastAPI) -> None:
    app.add_exception_handler(TruthloopError, _truthloop_error)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(CsrfRejected, _csrf)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
