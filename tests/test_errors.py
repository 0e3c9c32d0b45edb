"""The error tree in truthloop/errors.py's docstring is the whole tree: every error class is in
it, under its real parent, and the errors other modules raise on purpose are its members."""

from __future__ import annotations

import inspect
import re

from truthloop import errors
from truthloop.storage import datasets as store
from truthloop.web import auth, handlers


def _classes() -> dict[str, type[Exception]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, Exception)
        and value.__module__ == errors.__name__
    }


def _drawn_parents() -> dict[str, str | None]:
    """Each class the docstring draws, with the class drawn above it."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^(\s*[│ ]*(?:├── |└── )?)([A-Z]\w+)\b", line)
        if not found or not line.startswith("    "):
            continue
        depth, name = len(found.group(1)), found.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_every_error_under_its_parent() -> None:
    classes, drawn = _classes(), _drawn_parents()
    assert set(drawn) == set(classes) and len(classes) > 20
    for name, parent in drawn.items():
        assert classes[name].__bases__[0].__name__ == (parent or "Exception"), name


def test_errors_raised_elsewhere_are_members_of_the_tree() -> None:
    assert store.Conflict is errors.Conflict
    assert issubclass(errors.Conflict, errors.AlreadyExists)
    assert auth.CsrfRejected is errors.CsrfRejected
    assert issubclass(errors.NotSignedIn, errors.TruthloopError)
    assert issubclass(errors.CsrfRejected, errors.PermissionDenied)
    assert handlers.NotSignedIn is errors.NotSignedIn
