"""ASGI middleware every response goes through: a request body size limit and security headers.

Both are plain ASGI so that they see the raw byte stream and every response, including the
error responses other layers produce.
"""

from __future__ import annotations

import re

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: every script is a file under /static, which is what makes
# a label or a name that smuggles in `<script>` inert even if escaping were ever missed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The API docs (Swagger UI) start with an inline bootstrap script; its files come from this
# server (fastapi-offline), never a CDN, so /docs works offline too.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"
)
# A review task's page (A2I's human task UI) is a manager's HTML with its own inline scripts, as
# AWS's templates are written. It is shown in a sandboxed frame of the portal (no same-origin:
# an opaque origin, so no cookie, no storage, no API call as the reviewer) and held here to
# this server's own files: no fetch at all, no form sent anywhere, nothing loaded from outside.
TASK_FRAME_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'none'; form-action 'none'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
TASK_FRAME_PATH = re.compile(r"/review/tasks/[0-9]+/frame")
# The task frame's opaque origin loads the Crowd HTML Elements from /static as ES modules,
# which browsers fetch with CORS; the files are public, the same for everyone.
STATIC_CORS = (b"access-control-allow-origin", b"*")
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, docs_paths: tuple[str, ...] = ("/docs",)):
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        added = [*HEADERS, (b"content-security-policy", CSP.encode())]
        if path in self.docs_paths:
            added[-1] = (b"content-security-policy", DOCS_CSP.encode())
        elif TASK_FRAME_PATH.fullmatch(path):
            added[0] = (b"x-frame-options", b"SAMEORIGIN")
            added[-1] = (b"content-security-policy", TASK_FRAME_CSP.encode())
        elif path.startswith("/static/"):
            added.append(STATIC_CORS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"server"
                ]
                message = {**message, "headers": headers + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised while reading a body that grows past the limit; an HTTPException so that the
    framework's body parsing passes it on as a 413 instead of calling it a parse error."""

    def __init__(self, max_bytes: int, setting: str = "TRUTHLOOP_MAX_REQUEST_BYTES"):
        super().__init__(413, _too_large(f"more than {max_bytes}", max_bytes, setting))


def _too_large(size: str, max_bytes: int, setting: str) -> str:
    return f"the request body is {size} bytes; the limit is {max_bytes} bytes ({setting})"


class BodyLimit:
    """Refuses a request body over `max_bytes` with 413, by its Content-Length when it declares
    one and by counting the bytes as they arrive when it does not (chunked uploads).

    A POST whose path matches `upload_path` (a dataset import, which streams its body to a file
    and never holds it in memory) is held to `max_upload_bytes` instead."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        upload_path: re.Pattern[str] | None = None,
        max_upload_bytes: int = 0,
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_path = upload_path
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (
            self.upload_path is not None
            and scope.get("method") == "POST"
            and self.upload_path.fullmatch(scope.get("path", ""))
        ):
            limit, setting = self.max_upload_bytes, "TRUTHLOOP_MAX_UPLOAD_BYTES"
        else:
            limit, setting = self.max_bytes, "TRUTHLOOP_MAX_REQUEST_BYTES"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, declared.decode(errors="replace"), limit, setting)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, f"more than {limit}", limit, setting)

    async def _refuse(self, send: Send, size: str, limit: int, setting: str) -> None:
        body = orjson.dumps(
            {
                "error": "RequestTooLarge",
                "detail": _too_large(size, limit, setting),
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
