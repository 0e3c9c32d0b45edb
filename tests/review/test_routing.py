"""Detect with review: a flow attached to a running version starts a loop for each prediction
that meets its conditions, says so in the answer, and a retried call finds the same loop.

The model is a FakeModel: it answers its training images at 95 % and any other image with a
guess at 30 %, so "top confidence below 50" picks out exactly the unseen images."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from PIL import Image

from tests.ml.shapes import shapes
from tests.ml.stored import store_shapes
from tests.review.conftest import Desk
from truthloop import review
from truthloop.core.types import Boxes
from truthloop.ml import registry, serving
from truthloop.ml.backend import Task
from truthloop.ml.fake import FakeModel
from truthloop.review import DetectImage, attach_model, list_loops
from truthloop.storage.tables import HumanLoopRow

SEEN = shapes(4, task="detection", size=96, seed=3)
UNSEEN = shapes(3, task="detection", size=96, seed=11)
LOW_TOP = {
    "Conditions": [
        {"ConditionType": "TopConfidenceCheck", "ConditionParameters": {"ConfidenceLessThan": 50}}
    ]
}


def png(image: Image.Image) -> DetectImage:
    out = io.BytesIO()
    image.save(out, "PNG")
    return DetectImage(image, out.getvalue())


@pytest.fixture
def version(desk: Desk) -> str:
    store_shapes(desk.project, "seen", SEEN)
    trained = registry.train_version(
        desk.project,
        "logos",
        dataset="seen",
        task="detection",
        model=FakeModel(task=Task.DETECTION, guess_confidence=0.3),
    )
    serving.start_version(desk.project, trained.name)
    return trained.name


def images(data: object) -> list[DetectImage]:
    return [png(data.images[r.uri]) for r in data.records]  # type: ignore[attr-defined]


def test_unsure_predictions_start_loops_and_the_answer_says_so(desk: Desk, version: str) -> None:
    desk.flow(conditions=LOW_TOP, model_version=version)
    answers = review.detect(desk.project, version, images(SEEN) + images(UNSEEN))
    started = [a.get("HumanLoopActivationOutput") for a in answers]
    # An image goes to review when the model's top confidence is below 50: an unseen one (30 %),
    # or one it finds nothing in (no label counts as 0); not one it trained on (95 %).
    plain = serving.detect(
        desk.project, version, [i.image for i in images(SEEN) + images(UNSEEN)], min_confidence=0
    )
    unsure = [max((c["Confidence"] for c in a["CustomLabels"]), default=0) < 50 for a in plain]
    assert [output is not None for output in started] == unsure
    assert all(unsure[4:]) and not all(unsure[:4])
    for output in [o for o in started if o is not None]:
        assert output is not None
        assert output["FlowDefinitionName"] == "pets-review"
        assert output["HumanLoopArn"].endswith(":human-loop/" + output["HumanLoopName"])
        assert output["HumanLoopActivationReasons"] == ["ConditionsEvaluation"]
        results = json.loads(output["HumanLoopActivationConditionsEvaluationResults"])
        assert results["Conditions"][0]["EvaluationResult"] is True
    with desk.project.session() as session:
        loops = list_loops(session, "pets-review").loops
        assert len(loops) == sum(unsure)
        loop = session.get_one(HumanLoopRow, loops[0].id)  # the last unseen image
        content = orjson.loads(loop.input_content)
        assert loop.activation == results
    # The loop's input is what a template needs: the stored image, the model's labels, its
    # prediction and its boxes in pixels as the initial value.
    assert content["modelVersion"] == version and content["labels"]
    assert desk.project.read_bytes(content["taskObject"]).startswith(b"\x89PNG")
    last = UNSEEN.images[UNSEEN.records[-1].uri]
    assert content["imageSize"] == {"width": last.width, "height": last.height}
    # The reviewer starts from what detect answers by default: a 30 % guess is below the
    # version's thresholds, so no box is shown, though the whole prediction is in the input.
    assert content["initialValue"] == []
    assert content["prediction"]["CustomLabels"]
    assert content["topConfidence"] == pytest.approx(30.0)


def test_a_retried_detect_finds_the_loop_it_started(desk: Desk, version: str) -> None:
    desk.flow(conditions=LOW_TOP, model_version=version)
    first = review.detect(desk.project, version, images(UNSEEN)[:1])
    again = review.detect(desk.project, version, images(UNSEEN)[:1])
    name = first[0]["HumanLoopActivationOutput"]["HumanLoopName"]
    assert again[0]["HumanLoopActivationOutput"]["HumanLoopName"] == name
    with desk.project.session() as session:
        assert len(list_loops(session, "pets-review").loops) == 1


def test_no_conditions_reviews_everything_and_a_detached_flow_nothing(
    desk: Desk, version: str
) -> None:
    desk.flow(model_version=version)
    answers = review.detect(desk.project, version, images(SEEN)[:2])
    reasons = [a["HumanLoopActivationOutput"]["HumanLoopActivationReasons"] for a in answers]
    assert reasons == [["AlwaysReview"], ["AlwaysReview"]]
    with desk.project.session() as session:
        started = list_loops(session, "pets-review", ascending=True).loops
        contents = [orjson.loads(loop.input_content) for loop in started]
    # Images it trained on are answered at 95 %: their boxes are the reviewer's starting point.
    for content, answer in zip(contents, answers, strict=True):
        assert len(content["initialValue"]) == len(answer["CustomLabels"])
        for box in content["initialValue"]:
            assert set(box) == {"label", "left", "top", "width", "height"}
    with desk.project.session() as session:
        attach_model(session, "pets-review", None)
    answers = review.detect(desk.project, version, images(UNSEEN)[:1])
    assert "HumanLoopActivationOutput" not in answers[0]


def test_the_answer_itself_is_detect_s(desk: Desk, version: str) -> None:
    desk.flow(conditions=LOW_TOP, model_version=version)
    [pictures] = [images(UNSEEN)[:1]]
    plain = serving.detect(desk.project, version, [pictures[0].image], min_confidence=0)
    [reviewed] = review.detect(desk.project, version, pictures, min_confidence=0)
    assert reviewed["CustomLabels"] == plain[0]["CustomLabels"]
    assert isinstance(UNSEEN.records[0].annotations[0].value, Boxes)
