"""Counting what people did with a model's proposals, on plain values."""

from __future__ import annotations

from truthloop.core.types import Box, Boxes, Classification, MultiLabel
from truthloop.labeling.feedback.counts import (
    FeedbackCounts,
    above,
    adjustment_counts,
    total,
    verdict_counts,
    without_confidence,
)

CAT = Box("cat", 10, 10, 50, 50, 0.9)
DOG = Box("dog", 100, 10, 40, 40, 0.3)


def test_adjustment_counts_kept_moved_relabeled_deleted_and_drawn() -> None:
    proposal = Boxes((CAT, DOG, Box("cat", 200, 200, 20, 20, 0.8)))
    final = Boxes((
        Box("cat", 10.4, 10, 50, 50),  # kept: within a pixel
        Box("cat", 104, 12, 40, 40),  # the dog box, moved and relabeled
        Box("dog", 300, 300, 30, 30),  # drawn
    ))
    assert adjustment_counts(proposal, final) == FeedbackCounts(
        accepted=1, adjusted=1, rejected=1, added=1
    )


def test_each_box_matches_once() -> None:
    twice = Boxes((CAT, CAT))
    assert adjustment_counts(twice, Boxes((CAT,))) == FeedbackCounts(accepted=1, rejected=1)
    assert adjustment_counts(Boxes(()), Boxes((CAT,))) == FeedbackCounts(added=1)


def test_a_verdict_counts_every_label_of_the_proposal() -> None:
    assert verdict_counts(Boxes((CAT, DOG)), True) == FeedbackCounts(accepted=2)
    assert verdict_counts(Classification("cat", 0.7), False) == FeedbackCounts(rejected=1)
    assert total([FeedbackCounts(accepted=2), FeedbackCounts(rejected=1, added=3)]).to_json() == {
        "accepted": 2, "adjusted": 0, "rejected": 1, "added": 3,
    }


def test_min_confidence_and_approval() -> None:
    assert above(Boxes((CAT, DOG)), 0.5) == Boxes((CAT,))
    assert above(Classification("cat", 0.4), 0.5) is None
    assert above(MultiLabel(("cat", "dog"), (0.9, 0.2)), 0.5) == MultiLabel(("cat",), (0.9,))
    assert above(MultiLabel(("cat",), (0.2,)), 0.5) is None
    assert without_confidence(Boxes((CAT,))) == Boxes((Box("cat", 10, 10, 50, 50),))
    assert without_confidence(MultiLabel(("cat",), (0.9,))) == MultiLabel(("cat",))
