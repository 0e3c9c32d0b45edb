"""What the import API answers: a queued import, how far it got, and each refusal by line."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from truthloop.storage.tables import ImportRow

# The CLI's refusals read "<file>:<line>: <what>" (errors.InputError); an aborted import adds
# what follows this to say nothing was stored.
_LOCATED = re.compile(r"^(?P<where>.+?):(?P<line>\d+): (?P<what>.+)$", re.DOTALL)
_ABORTED = " — nothing was imported"
# An upload's own folder (`<home>/uploads/<uuid>/`, and `files/` in it for a zip) says nothing
# to the person who uploaded it: the file is shown by its name in what they sent.
_UPLOAD_FOLDER = re.compile(r"^.*?/uploads/[0-9a-f]{32}/(?:files/)?")


class ImportQueued(BaseModel):
    id: int
    status: str
    url: str


class Refusal(BaseModel):
    """One refused line or item: `where` the file (or item), `line` its 1-based line when the
    format has lines, `what` the reason."""

    where: str
    line: int | None
    what: str

    @classmethod
    def of(cls, message: str, upload: bool) -> Refusal:
        match = _LOCATED.match(message)
        if match is None:
            return cls(where="", line=None, what=message)
        where = _UPLOAD_FOLDER.sub("", match["where"]) if upload else match["where"]
        return cls(where=where, line=int(match["line"]), what=match["what"])


class ImportPublic(BaseModel):
    id: int
    dataset: str
    format: str
    status: str
    lines_read: int
    items_stored: int
    error: str | None
    report: dict[str, Any] | None
    refusals: list[Refusal]
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: ImportRow, lines_read: int) -> ImportPublic:
        return cls(
            id=row.id, dataset=row.dataset, format=row.fmt, status=row.status,
            lines_read=lines_read, items_stored=row.items_stored, error=row.error,
            report=row.report, refusals=refusals(row), created_at=row.created_at,
            finished_at=row.finished_at,
        )


def refusals(row: ImportRow) -> list[Refusal]:
    """The lines the import refused: the one that stopped it (on_error abort), or each it
    skipped (on_error skip), as the CLI lists them."""
    messages: list[str] = []
    if row.error:
        messages.append(row.error.split(_ABORTED, 1)[0])
    if row.report:
        messages.extend(str(m) for m in row.report.get("errors", ()))
    return [Refusal.of(m, row.upload) for m in messages]
