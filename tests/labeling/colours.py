"""Tiny reddish and bluish images, a dataset of them and a simulated workforce that knows which
is which: the automated-labeling tests' small world (with the fake model, `FAKE`)."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from truthloop.core.types import Classification, ImageRecord, ImageSize, LabelSet, Value
from truthloop.labeling import JobSpec, TaskType
from truthloop.people import add_team
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import TeamRow

FAKE = {"backend": "fake", "backend_params": {"task": "classification", "guess_confidence": 0.6}}


def colour_images(folder: Path, n: int, *, seed: int, separable: bool = True) -> dict[str, Value]:
    """Tiny images; "red" ones are reddish and "blue" bluish, unless not `separable`."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Value] = {}
    for i in range(n):
        label = "red" if i % 2 else "blue"
        reddish = label == "red" if separable else rng.random() < 0.5
        colour = (200 + rng.randrange(50), rng.randrange(60), rng.randrange(60))
        if not reddish:
            colour = colour[::-1]
        path = folder / f"{seed}-{i:04d}.png"
        Image.new("RGB", (8, 8), colour).save(path)
        truth[str(path)] = Classification(label)
    return truth


def colour_dataset(project: Project, name: str, truth: dict[str, Value]) -> None:
    with project.session() as session:
        if session.scalar(select(TeamRow.id).where(TeamRow.name == "sim")) is None:
            add_team(session, "sim")
        dataset = store.create_dataset(session, name, LabelSet.from_names(["red", "blue"]))
        records = [ImageRecord(uri, ImageSize(8, 8)) for uri in truth]
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])


def job_spec(name: str, dataset: str = "colours", **terms: object) -> JobSpec:
    return JobSpec(
        name=name, dataset=dataset, task_type=TaskType.CLASSIFICATION, team="sim", **terms  # type: ignore[arg-type]
    )


def workforce(project: Project, truth: dict[str, Value]) -> SimulatedWorkforce:
    return SimulatedWorkforce(
        project, truth, [WorkerProfile(name, class_error_rate=0.0) for name in ("w1", "w2")],
        team="sim",
    )
