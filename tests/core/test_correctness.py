from __future__ import annotations

import pytest

from truthloop.core.correctness import judge
from truthloop.core.types import Box, Boxes, Classification

CAT, DOG, FOX = Classification("cat"), Classification("dog"), Classification("fox")


@pytest.mark.parametrize(
    ("people", "verdict"),
    [
        ([CAT], True),
        ([DOG, CAT], True),  # the first person slipped, the second agrees with the model
        ([DOG], None),  # one person against the model: who slipped is not known
        ([DOG, FOX], None),  # two who differ from each other too: still not known
        ([DOG, DOG], False),  # two who agree, against the model: the model is wrong
        ([DOG, FOX, DOG], False),
        ([DOG, FOX, CAT], True),
    ],
)
def test_the_model_is_judged_by_people_who_agree(
    people: list[Classification], verdict: bool | None
) -> None:
    assert judge(CAT, people) is verdict


def test_boxes_are_judged_image_by_image() -> None:
    found = Boxes((Box("cat", 10, 10, 40, 40), Box("dog", 60, 10, 30, 30)))
    # each person slipped on a different box: neither image matches, and neither matches the
    # other, so nothing shows the model wrong
    first = Boxes((Box("fox", 10, 10, 40, 40), Box("dog", 60, 10, 30, 30)))
    second = Boxes((Box("cat", 11, 10, 40, 40),))
    assert judge(found, [first, second]) is None
    third = Boxes((Box("cat", 12, 12, 40, 40), Box("dog", 61, 10, 30, 30)))
    assert judge(found, [first, second, third]) is True
