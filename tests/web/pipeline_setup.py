"""A pipeline on the portal's seeded project, for the pipeline API and page tests: dataset
`shapes-train` of 12 labeled shapes, the pipeline `shapes` (classification) with its own review
flow for team red and a FakeModel (instant, no torch) that is sure (95 %) of the images it
trained on and unsure (30 %) of any other."""

from __future__ import annotations

import io

from tests.ml.shapes import Shapes, shapes
from tests.ml.stored import store_shapes
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.pipeline import PipelineSpec, create_pipeline, get_pipeline, set_param
from truthloop.pipeline.review_flow import create_review_flow
from truthloop.pipeline.training import check_training
from truthloop.storage.project import Project

NAME = "shapes"
SEEN = shapes(12, task="classification", size=48, seed=5)
UNSEEN = shapes(3, task="classification", size=48, seed=23)


def png(data: Shapes, index: int) -> bytes:
    out = io.BytesIO()
    data.images[data.records[index].uri].save(out, "PNG")
    return out.getvalue()


def make_pipeline(project: Project, *, deploy: bool = True) -> str:
    """The pipeline, and with `deploy` its first version trained (gate at 0) and deployed;
    the deployed version's name, or '' without one."""
    store_shapes(project, "shapes-train", SEEN)
    flow = create_review_flow(project, NAME, "classification", team="red")
    model = FakeModel(task=Task.CLASSIFICATION, guess_confidence=0.3)
    with project.session() as session:
        create_pipeline(session, PipelineSpec(NAME, "classification", "shapes-train", flow, model))
    if not deploy:
        return ""
    with project.session() as session:
        set_param(session, get_pipeline(session, NAME), "Minimum-F1-Score", 0.0)
    check = check_training(project, NAME, on_demand=True)
    assert check.deployed, check
    return str(check.version)
