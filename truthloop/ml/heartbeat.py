"""Telling a training that is still going from one whose process died.

A trainer records itself ("host:pid") on its version and stamps `heartbeat_at` from a thread
every HEARTBEAT_EVERY_S while it works. A TRAINING_IN_PROGRESS version is abandoned when that
process is gone from this host, or when its last heartbeat is older than STALE_AFTER (a trainer
on another host, or a host that went down); `fail_abandoned_trainings` marks those
TRAINING_FAILED with the reason.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update

from truthloop.ml.versions import VersionStatus
from truthloop.storage.claims import process_gone, this_process
from truthloop.storage.project import Project
from truthloop.storage.tables import ModelVersionRow, utcnow

HEARTBEAT_EVERY_S = 30.0
STALE_AFTER = timedelta(minutes=5)


# A trainer is named as a claim's holder is: "host:pid" (storage/claims.py tells when it is gone).
this_trainer = this_process


class Heartbeat:
    """Stamps a training version's `heartbeat_at` every HEARTBEAT_EVERY_S from a thread."""

    def __init__(self, project: Project, name: str, every: float = HEARTBEAT_EVERY_S):
        self.project = project
        self.name = name
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.project.session() as session:
                    session.execute(
                        update(ModelVersionRow)
                        .where(ModelVersionRow.name == self.name)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:
                continue  # a missed beat is harmless (a busy database); the next one retries


def abandonment(row: ModelVersionRow, now: datetime) -> str | None:
    """Why a TRAINING_IN_PROGRESS version has no live trainer, or None while it has one."""
    if process_gone(row.trainer):
        return f"its trainer ({row.trainer}) stopped without finishing"
    if row.heartbeat_at is None or now - row.heartbeat_at > STALE_AFTER:
        return (
            f"its trainer ({row.trainer}) stopped without finishing: no heartbeat since"
            f" {row.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
            if row.heartbeat_at
            else f"its trainer ({row.trainer}) never sent a heartbeat"
        )
    return None


def fail_abandoned_trainings(project: Project, *, now: datetime | None = None) -> list[str]:
    """Mark TRAINING_FAILED every version whose trainer died; returns their names."""
    now = now or utcnow()
    failed: list[str] = []
    with project.session() as session:
        rows = session.scalars(
            select(ModelVersionRow).where(
                ModelVersionRow.status == VersionStatus.TRAINING_IN_PROGRESS.value
            )
        ).all()
        for row in rows:
            reason = abandonment(row, now)
            if reason is not None:
                row.status = VersionStatus.TRAINING_FAILED.value
                row.failure_reason = reason
                row.training_ended_at = row.updated_at = now
                failed.append(row.name)
    return failed
