"""Two trainers that number a new version at the same moment (PostgreSQL): the one that loses
the race takes the next number, twice at most, then says so."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.training_sets import TrainingSet


@dataclass
class _Db:
    sessions: int = 0

    @contextlib.contextmanager
    def session(self, immediate: bool = False) -> Iterator[object]:
        self.sessions += 1
        yield object()


@dataclass
class _Project:
    db: _Db = field(default_factory=_Db)


def _record(monkeypatch: pytest.MonkeyPatch, conflicts: int) -> tuple[str, _Project]:
    tries: list[int] = []

    def add_version(session: object, project: str, **fields: Any) -> Any:
        tries.append(1)
        if len(tries) <= conflicts:
            raise IntegrityError("INSERT", {}, Exception("duplicate version number"))
        return type("Row", (), {"name": f"{project}.v{len(tries)}"})()

    monkeypatch.setattr(registry, "add_version", add_version)
    project = _Project()
    data = TrainingSet((), (), (), ("a",), "none")
    name = registry._record_version(
        project,  # type: ignore[arg-type]
        "shapes",
        FakeModel(task=Task.CLASSIFICATION),
        None,
        "train",
        None,
        data,
    )
    return name, project


def test_a_lost_race_takes_the_next_number(monkeypatch: pytest.MonkeyPatch) -> None:
    name, project = _record(monkeypatch, conflicts=2)
    assert name == "shapes.v3" and project.db.sessions == 3


def test_a_third_lost_race_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IntegrityError):
        _record(monkeypatch, conflicts=3)
