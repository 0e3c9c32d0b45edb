"""Signed, short-lived links to one image (`grant_read_access`)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from truthloop.errors import InputError, PermissionDenied
from truthloop.review import grants
from truthloop.review.grants import (
    GRANT_PATH,
    GRANT_SECONDS,
    MAX_TOKEN_CHARS,
    Grant,
    grant_for,
    grant_url,
    open_grant,
    sign_grant,
)

SECRET = "project-secret-key"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=GRANT_SECONDS)
TARGET = "s3://bucket/images/cat 1.jpg"


def token(**changes: object) -> str:
    args: dict[str, object] = {
        "target": TARGET,
        "loop": "loop-1",
        "user_id": 7,
        "expires_at": LATER,
    }
    args.update(changes)
    target = args.pop("target")
    assert isinstance(target, str)
    return sign_grant(SECRET, target, **args)  # type: ignore[arg-type]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_token_opens_what_it_was_signed_for() -> None:
    grant = open_grant(SECRET, token(), now=NOW)
    assert grant == Grant(target=TARGET, loop="loop-1", user_id=7, expires_at=LATER)


def test_a_token_is_url_safe_and_served_under_the_grant_path() -> None:
    signed = token(target="s3://b/a b/../ü?x=1&y=2#f")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", signed)
    assert grant_url(signed) == GRANT_PATH.format(token=signed) == f"/review/media/{signed}"
    assert open_grant(SECRET, signed, now=NOW).target == "s3://b/a b/../ü?x=1&y=2#f"


def test_the_expiry_is_kept_to_the_whole_second() -> None:
    grant = open_grant(SECRET, token(expires_at=LATER + timedelta(microseconds=900)), now=NOW)
    assert grant.expires_at == LATER


def test_a_str_and_a_bytes_secret_are_the_same_key() -> None:
    signed = sign_grant(SECRET.encode(), TARGET, loop="l", user_id=1, expires_at=LATER)
    assert open_grant(SECRET, signed, now=NOW).target == TARGET


def test_a_payload_changed_after_signing_is_refused() -> None:
    body, signature = token().split(".")
    payload = json.loads(unb64(body))
    payload["target"] = "s3://bucket/other-team/secret.jpg"
    forged = f"{b64(json.dumps(payload).encode())}.{signature}"
    with pytest.raises(PermissionDenied, match="signature does not match"):
        open_grant(SECRET, forged, now=NOW)


def test_a_later_expiry_cannot_be_written_in() -> None:
    body, signature = token().split(".")
    payload = json.loads(unb64(body))
    payload["exp"] += 86_400
    with pytest.raises(PermissionDenied, match="signature"):
        open_grant(SECRET, f"{b64(json.dumps(payload).encode())}.{signature}", now=NOW)


def test_a_changed_signature_is_refused() -> None:
    body, signature = token().split(".")
    raw = bytearray(unb64(signature))
    raw[0] ^= 1
    with pytest.raises(PermissionDenied, match="signature does not match"):
        open_grant(SECRET, f"{body}.{b64(bytes(raw))}", now=NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    signed = sign_grant("another project", TARGET, loop="loop-1", user_id=7, expires_at=LATER)
    with pytest.raises(PermissionDenied, match="signature does not match"):
        open_grant(SECRET, signed, now=NOW)


def test_a_plain_hmac_of_the_payload_is_not_a_grant() -> None:
    # The MAC covers a purpose string: something else signed with the project secret (the
    # session cookie) cannot be passed off as a grant.
    import hashlib
    import hmac

    body = token().split(".")[0]
    plain = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
    with pytest.raises(PermissionDenied, match="signature"):
        open_grant(SECRET, f"{body}.{b64(plain)}", now=NOW)


def test_an_expired_token_is_refused() -> None:
    signed = token()
    assert open_grant(SECRET, signed, now=LATER - timedelta(seconds=1)).user_id == 7
    for moment in (LATER, LATER + timedelta(days=1)):
        with pytest.raises(PermissionDenied, match="expired at 2024-05-01T12:15:00"):
            open_grant(SECRET, signed, now=moment)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no-dot-at-all",
        "a.b.c",
        "abc.",
        ".abc",
        "ab!c.def",
        "abc.de=f",
        "abc.d e",
        "x.abcde",  # 5 base64 characters cannot be whole bytes
        "a" * (MAX_TOKEN_CHARS + 1),
    ],
)
def test_a_malformed_token_is_refused(bad: str) -> None:
    with pytest.raises(PermissionDenied, match=r"malformed|signature"):
        open_grant(SECRET, bad, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b'{"target": "s3://b/x"}',
        b'{"target": 1, "loop": "l", "user": 1, "exp": 1}',
        b'{"target": "t", "loop": "l", "user": true, "exp": 1}',
        b'{"target": "t", "loop": "l", "user": 1, "exp": 1e400}',
        b'{"target": "t", "loop": "l", "user": 1, "exp": 99999999999999999999}',
        b"[1, 2]",
    ],
)
def test_a_signed_but_unreadable_payload_is_refused(payload: bytes) -> None:
    body = b64(payload)
    signed = f"{body}.{b64(grants._mac(SECRET, body))}"
    with pytest.raises(PermissionDenied, match="malformed"):
        open_grant(SECRET, signed, now=NOW)


def test_a_token_for_another_loop_or_user_says_whose_it_is() -> None:
    # The token itself is valid; the route compares the fields with the request's loop and
    # user, and refuses a link a worker passed on.
    grant = open_grant(SECRET, token(loop="loop-2", user_id=99), now=NOW)
    assert (grant.loop, grant.user_id) == ("loop-2", 99)
    assert (grant.loop, grant.user_id) != ("loop-1", 7)


def test_naive_datetimes_are_a_callers_mistake() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        token(expires_at=datetime(2024, 5, 1, 12, 15))
    with pytest.raises(ValueError, match="timezone-aware"):
        open_grant(SECRET, token(), now=datetime(2024, 5, 1, 12, 0))


def test_the_grant_callback_checks_then_signs() -> None:
    checked: list[str] = []

    def check(uri: str) -> None:
        checked.append(uri)
        if "other" in uri:
            raise InputError(f"{uri} is not an item of this loop")

    grant = grant_for(SECRET, loop="loop-1", user_id=7, expires_at=LATER, check=check)
    url = grant(TARGET)
    assert url.startswith("/review/media/")
    assert open_grant(SECRET, url.removeprefix("/review/media/"), now=NOW).target == TARGET
    with pytest.raises(InputError, match="not an item of this loop"):
        grant("s3://bucket/other/x.jpg")
    assert checked == [TARGET, "s3://bucket/other/x.jpg"]
