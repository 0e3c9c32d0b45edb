"""A project ready for a feedback run, shared by the labeling, CLI and web tests: a larger
dataset of six unlabeled shape images, a detection model `shapes.v1` (a FakeModel) that knows
the first three exactly and guesses the rest, and a simulated team `crew` that knows the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tests.ml.shapes import Shapes, shapes
from tests.ml.stored import store_shapes
from truthloop.core.types import Value
from truthloop.ml import registry
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.ml.serving import start_version
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage.project import Project

LARGER = shapes(6, task="detection", size=96, seed=7)
KNOWN = 3  # the model was trained on the first KNOWN images of LARGER
MODEL = "shapes.v1"
# Perfect workers: the counts a test expects then follow from the truth alone.
CAREFUL = (WorkerProfile("ann", class_error_rate=0.0, box_jitter=0.0),)


@dataclass
class FeedbackSetup:
    project: Project
    truth: dict[str, Value]  # stored image URI -> its true boxes

    def workforce(self) -> SimulatedWorkforce:
        return SimulatedWorkforce(self.project, self.truth, CAREFUL, team="crew")


def _unlabeled(data: Shapes) -> Shapes:
    return Shapes([replace(r, annotations=()) for r in data.records], data.images)


def _part(data: Shapes, count: int) -> Shapes:
    return Shapes(data.records[:count], data.images)


def prepare(project: Project, *, start: bool = True) -> FeedbackSetup:
    stored = store_shapes(project, "larger", _unlabeled(LARGER))
    store_shapes(project, "known", _part(LARGER, KNOWN))
    store_shapes(project, "test", shapes(3, task="detection", size=96, seed=8))
    registry.train_version(
        project, "shapes", dataset="known", task="detection", test_dataset="test",
        model=FakeModel(task=Task.DETECTION),
    )
    if start:
        start_version(project, MODEL)
    truth = {
        s.uri: r.annotations[0].value for s, r in zip(stored, LARGER.records, strict=True)
    }
    setup = FeedbackSetup(project, truth)
    setup.workforce()  # enrols the team
    return setup
