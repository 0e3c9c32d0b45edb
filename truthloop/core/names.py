"""Names users give to datasets, jobs and models end up in URLs, file names and manifests, so
they are plain: letters, digits, `.`, `_` and `-`, starting with a letter or digit."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and ".." not in name


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` cannot name a `kind`, or None when it can."""
    if is_valid_name(name):
        return None
    return (
        f"{kind} name {name!r} is not allowed: use 1-128 letters, digits, '.', '_' or '-',"
        " starting with a letter or digit, and no '..'"
    )
