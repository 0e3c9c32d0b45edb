"""What the import API answers: a queued import and how far it got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from truthloop.storage.tables import ImportRow


class ImportQueued(BaseModel):
    id: int
    status: str
    url: str


class ImportPublic(BaseModel):
    id: int
    dataset: str
    format: str
    status: str
    lines_read: int
    items_stored: int
    error: str | None
    report: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: ImportRow, lines_read: int) -> ImportPublic:
        return cls(
            id=row.id, dataset=row.dataset, format=row.fmt, status=row.status,
            lines_read=lines_read, items_stored=row.items_stored, error=row.error,
            report=row.report, created_at=row.created_at, finished_at=row.finished_at,
        )
