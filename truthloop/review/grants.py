"""Short-lived signed links to one image, for a reviewer's task page (`grant_read_access`).

A2I's `grant_read_access` turns an S3 URI into a presigned HTTPS URL. truthloop serves the image
itself, at `GRANT_PATH` with an opaque token in place of `{token}`. The token carries what it
opens — the target URI, the loop, the user and the expiry — in its signed payload, so a worker
cannot point it elsewhere: there is nothing in the URL to edit (no path, no `..`, no other key)
that the signature does not cover.

    token = base64url(payload JSON) "." base64url(HMAC-SHA256(key, purpose + payload part))

The key is the project's secret (`truthloop.web.auth.secret_key`), passed in by the caller. The
same secret signs the session cookie, so the MAC covers a purpose string first: a grant token
can never verify as anything else signed with that secret, nor anything else as a grant.

A token says the signer let `user_id` see `target` for `loop` until `expires_at`; the route that
serves it must still check that the user asking is `user_id` (a link passed on to another
worker is refused) and may check that the loop is still open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from truthloop.errors import PermissionDenied

GRANT_PATH = "/review/media/{token}"
"""Where truthloop serves the image a token opens (the web route fills in the token)."""

GRANT_SECONDS = 900
"""How long a link lives by default: 15 minutes, A2I's presigned URLs are as short. A page is
rendered when a worker opens a task and the browser fetches its images at once, so minutes are
plenty; a link copied out of the page stops working soon after. A worker who leaves a task open
longer reloads the page and gets fresh links."""

MAX_TOKEN_CHARS = 8192
"""Longer tokens are refused before any decoding: no target URI truthloop stores comes near."""

_PURPOSE = b"truthloop.review.grant.v1\x00"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Grant:
    """What a valid token opens: `target` for `user_id` reviewing in `loop`, until
    `expires_at` (UTC, whole seconds)."""

    target: str
    loop: str
    user_id: int
    expires_at: datetime


def sign_grant(
    secret: bytes | str, target: str, *, loop: str, user_id: int, expires_at: datetime
) -> str:
    """A URL-safe token that opens `target` for `user_id` in `loop` until `expires_at`
    (timezone-aware; kept to the whole second, rounded down)."""
    payload = {
        "target": target,
        "loop": loop,
        "user": user_id,
        "exp": int(_aware(expires_at, "expires_at").timestamp()),
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    body = _encode(text.encode("utf-8"))
    return f"{body}.{_encode(_mac(secret, body))}"


def open_grant(secret: bytes | str, token: str, *, now: datetime) -> Grant:
    """The grant `token` carries; PermissionDenied when it is malformed, was not signed with
    `secret` (forged or altered) or has expired at `now`."""
    body, signature = _split(token)
    # The signature is checked before the payload is parsed: nothing an attacker wrote is
    # interpreted until it is known to be ours.
    if not hmac.compare_digest(signature, _mac(secret, body)):
        raise PermissionDenied("this image link is not valid: its signature does not match")
    grant = _parse_payload(_decode(body))
    if _aware(now, "now") >= grant.expires_at:
        raise PermissionDenied(
            f"this image link expired at {grant.expires_at.isoformat()}: reload the task page"
            " for a new one"
        )
    return grant


def grant_url(token: str) -> str:
    """The path that serves `token` (its characters need no quoting in a URL)."""
    return GRANT_PATH.format(token=token)


def grant_for(
    secret: bytes | str,
    *,
    loop: str,
    user_id: int,
    expires_at: datetime,
    check: Callable[[str], None],
) -> Callable[[str], str]:
    """The `grant` callback for rendering one task page: it signs a link for each URI the
    template asks for, after `check(uri)` (which raises InputError for a URI this page may
    not open — the template is written by a manager and can name any URI it likes)."""

    def grant(uri: str) -> str:
        check(uri)
        return grant_url(sign_grant(secret, uri, loop=loop, user_id=user_id, expires_at=expires_at))

    return grant


def _split(token: str) -> tuple[str, bytes]:
    if len(token) > MAX_TOKEN_CHARS:
        raise PermissionDenied("this image link is malformed: it is too long")
    parts = token.split(".")
    if len(parts) != 2 or not all(_BASE64URL.fullmatch(part) for part in parts):
        raise PermissionDenied("this image link is malformed: it is not a truthloop grant")
    return parts[0], _decode(parts[1])


def _parse_payload(raw: bytes) -> Grant:
    # Only reached with a valid signature, so a failure here means a bug or a changed format,
    # still reported as PermissionDenied: the caller treats every bad token alike.
    try:
        payload = json.loads(raw.decode("utf-8"))
        target, loop, user, exp = (payload[k] for k in ("target", "loop", "user", "exp"))
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as err:
        raise PermissionDenied("this image link is malformed: its payload is unreadable") from err
    if not (isinstance(target, str) and isinstance(loop, str) and _is_int(user) and _is_int(exp)):
        raise PermissionDenied("this image link is malformed: its payload has the wrong fields")
    try:
        expires_at = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise PermissionDenied("this image link is malformed: its expiry is out of range") from err
    return Grant(target=target, loop=loop, user_id=user, expires_at=expires_at)


def _is_int(value: object) -> bool:
    # JSON true/false load as bool, which is an int subclass in Python.
    return isinstance(value, int) and not isinstance(value, bool)


def _mac(secret: bytes | str, body: str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, _PURPOSE + body.encode("ascii"), hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    # Unpadded: `=` would need quoting in some URL parsers and adds nothing.
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise PermissionDenied("this image link is malformed: it is not base64") from err


def _aware(moment: datetime, name: str) -> datetime:
    # A naive datetime would be read in the server's local zone: a link's life would then
    # depend on where truthloop runs. A caller's mistake, not a user's, hence ValueError.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment.isoformat()}")
    return moment
