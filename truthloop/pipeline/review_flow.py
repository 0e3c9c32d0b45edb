"""A pipeline's own review flow, made for it when its creator names a team rather than a flow:
the task UI the seed's A2I workflow shows (pick the class, or "None of the Above"; or correct
the boxes) and a flow that sends the loops to that team.

    create_review_flow(project, "logos", "classification", team="reviewers") -> "logos-review"

The flow has no activation conditions and no model attached: the pipeline itself decides which
detections are reviewed (`Minimum-Label-Detection-Confidence`) and starts their loops.
"""

from __future__ import annotations

import re

from truthloop.errors import InputError
from truthloop.review.flows import FlowSpec, FlowStatus, create_flow
from truthloop.review.task_uis import create_task_ui
from truthloop.review.templates import INITIAL_BOXES
from truthloop.storage.project import Project

CLASSIFICATION_TEMPLATE = """\
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>

<crowd-form>
  <crowd-image-classifier
    name="category"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="Which of these does the image show?"
    categories="{{ task.input.labels | to_json }}"
  >
    <full-instructions header="Instructions">
      <p>Pick the class the image shows. The model said
        <strong>{{ task.input.initialValue | default: "nothing" }}</strong>, and was not sure.</p>
      <p>If the image shows none of the classes, pick <em>None of the Above</em>: the image
        is then left out of the training set.</p>
    </full-instructions>
    <short-instructions>
      Pick the class the image shows; None of the Above when none fits.
    </short-instructions>
  </crowd-image-classifier>
</crowd-form>
"""

BOXES_TEMPLATE = (
    """\
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>

<crowd-form>
  <crowd-bounding-box
    name="annotatedResult"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="Correct the model's boxes"
    labels="{{ task.input.labels | to_json }}"
"""
    + INITIAL_BOXES
    + """\
  >
    <full-instructions header="Instructions">
      <p>Move, resize or delete the model's boxes, and draw the ones it missed. An image with
        nothing to box is answered with no boxes.</p>
    </full-instructions>
    <short-instructions>Correct the boxes: every object, tightly.</short-instructions>
  </crowd-bounding-box>
</crowd-form>
"""
)


def review_flow_name(pipeline: str) -> str:
    """The name of a pipeline's own flow and task UI: the pipeline's, in A2I's alphabet."""
    base = re.sub(r"[^a-z0-9-]+", "-", pipeline.lower()).strip("-")[:48].strip("-")
    return f"{base or 'pipeline'}-review"


def create_review_flow(
    project: Project,
    pipeline: str,
    task: str,
    *,
    team: str,
    output: str | None = None,
    created_by: int | None = None,
) -> str:
    """Create the task UI and flow for `pipeline`'s reviews by `team`, writing loop outputs
    under `output` (default: `review-output/<flow>` in the project home); the flow's name.
    InputError when the flow could not be made Active (its output cannot be written)."""
    name = review_flow_name(pipeline)
    template = CLASSIFICATION_TEMPLATE if task == "classification" else BOXES_TEMPLATE
    with project.session() as session:
        create_task_ui(session, name, template, created_by=created_by)
    flow = create_flow(
        project,
        FlowSpec(
            name=name,
            team=team,
            task_ui=name,
            title=f"Review {pipeline}'s unsure answers",
            description="The model was not sure of these images: say what each one shows.",
            output=output or str(project.home / "review-output" / name),
        ),
        created_by=created_by,
    )
    if flow.status != FlowStatus.ACTIVE:
        raise InputError(f"review flow {name!r} is {flow.status}: {flow.failure_reason}")
    return name
