from __future__ import annotations

import pytest

from truthloop.core.consolidation import (
    Estimate,
    Vote,
    agreement,
    consolidate_boxes,
    consolidate_classes,
    consolidate_multilabel,
    dawid_skene,
    majority_vote,
    verification_of,
)
from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Verification

BIRDS = ["owl", "falcon", "duck"]


def test_majority_vote_gives_the_winner_and_its_share() -> None:
    assert majority_vote(["owl", "owl", "falcon"], BIRDS) == Estimate("owl", 0.67)
    # A tie goes to the class listed first, so the result does not depend on answer order.
    assert majority_vote(["duck", "falcon"], BIRDS) == Estimate("falcon", 0.5)


def test_the_first_em_step_is_the_hand_computed_posterior() -> None:
    """Uniform prior, confusion 0.7 on the diagonal: owl, owl, falcon over three classes gives
    owl ∝ .7·.7·.15, falcon ∝ .15·.15·.7, duck ∝ .15³, so owl = .0735 / .092625."""
    votes = [Vote(1, "a", "owl"), Vote(1, "b", "owl"), Vote(1, "c", "falcon")]
    fit = dawid_skene(votes, BIRDS, max_epochs=1)
    owl, falcon, duck = fit.posteriors[1]
    assert owl == pytest.approx(0.0735 / 0.092625)
    assert falcon == pytest.approx(0.01575 / 0.092625)
    assert duck == pytest.approx(0.003375 / 0.092625)
    assert fit.estimates[1] == Estimate("owl", 0.79)
    assert fit.epochs == 1


def _spammer_votes() -> list[Vote]:
    """Three careful workers and two spammers who always answer "cat". On the last items only
    one careful worker and the two spammers answer, so the majority is wrong there."""
    votes = []
    for i in range(6):
        votes += [Vote(f"dog{i}", w, "dog") for w in ("g1", "g2", "g3")]
        votes += [Vote(f"dog{i}", w, "cat") for w in ("s1", "s2")]
        votes += [Vote(f"cat{i}", w, "cat") for w in ("g1", "g2", "g3", "s1", "s2")]
    for i in range(3):
        votes += [Vote(f"hard{i}", "g1", "dog"), Vote(f"hard{i}", "s1", "cat"),
                  Vote(f"hard{i}", "s2", "cat")]
    return votes


def test_dawid_skene_down_weights_spammers_where_majority_vote_fails() -> None:
    votes = _spammer_votes()
    fit = dawid_skene(votes, ["cat", "dog"])
    for i in range(3):
        answers = [v.label for v in votes if v.item == f"hard{i}"]
        assert majority_vote(answers, ["cat", "dog"]).label == "cat"
        assert fit.estimates[f"hard{i}"].label == "dog"
        assert fit.estimates[f"hard{i}"].confidence > 0.9
    assert fit.worker_accuracy["s1"] < 0.5 < 0.98 < fit.worker_accuracy["g1"]
    assert 1 < fit.epochs < 20  # converged before the epoch limit


def test_an_item_one_worker_answered_keeps_that_answer() -> None:
    votes = [*_spammer_votes(), Vote("alone", "s1", "dog")]
    estimates = consolidate_classes(votes, ["cat", "dog"])
    assert estimates["alone"] == Estimate("dog", 0.0)
    assert estimates["hard0"].label == "dog"
    only_single = consolidate_classes([Vote(1, "a", "owl"), Vote(2, "a", "duck")], BIRDS)
    assert only_single == {1: Estimate("owl", 0.0), 2: Estimate("duck", 0.0)}


def test_votes_outside_the_classes_are_refused() -> None:
    with pytest.raises(ValueError, match="'eagle' is not a class"):
        dawid_skene([Vote(1, "a", "eagle")], BIRDS)


def test_one_class_is_certain() -> None:
    fit = dawid_skene([Vote(1, "a", "owl"), Vote(1, "b", "owl")], ["owl"])
    assert fit.estimates[1] == Estimate("owl", 1.0)


def test_verification_keeps_non_empty_comments_and_the_category_index() -> None:
    answers = [Verification("bad", 1, comments=("too wide", "  ")), Verification("bad", 1)]
    assert verification_of(Estimate("bad", 0.93), ["good", "bad"], answers) == Verification(
        "bad", 1, 0.93, ("too wide",)
    )


def test_multilabel_keeps_every_chosen_label_with_the_share_of_workers() -> None:
    answers = [MultiLabel(("duck", "owl")), MultiLabel(("owl",)), MultiLabel(("owl", "owl"))]
    assert consolidate_multilabel(answers, BIRDS) == MultiLabel(("owl", "duck"), (1.0, 0.33))
    assert consolidate_multilabel([MultiLabel(("duck",))], BIRDS) == MultiLabel(("duck",), (0.0,))


def test_boxes_are_averaged_with_a_hand_computed_confidence() -> None:
    """Mean edges: left 102, top 101, right 202, bottom 201. IoUs with the mean box: 9702/10298
    twice and 9800/10200, mean 0.948; all three workers drew it, so confidence 0.95."""
    answers = [
        Boxes((Box("dog", 100, 100, 100, 100),)),
        Boxes((Box("dog", 104, 100, 100, 100),)),
        Boxes((Box("dog", 102, 103, 100, 100),)),
    ]
    assert consolidate_boxes(answers) == Boxes((Box("dog", 102, 101, 100, 100, 0.95),))


def test_boxes_fewer_than_half_the_workers_drew_are_dropped() -> None:
    spot = Box("cat", 300, 300, 20, 20)
    dog = Box("dog", 10, 10, 50, 50)
    three = [Boxes((dog, spot)), Boxes((dog,)), Boxes((dog,))]
    assert [b.label for b in consolidate_boxes(three).boxes] == ["dog"]
    four = [Boxes((dog, spot)), Boxes((dog, spot)), Boxes((dog,)), Boxes((dog,))]
    kept = consolidate_boxes(four).boxes
    assert [(b.label, b.confidence) for b in kept] == [("dog", 1.0), ("cat", 0.5)]


def test_overlapping_objects_match_boxes_of_their_own_label_first() -> None:
    person = Box("person", 100, 100, 100, 200)
    bike = Box("bike", 100, 140, 100, 160)  # IoU with the person box: 0.8
    answers = [Boxes((person, bike)), Boxes((bike, person))]
    result = consolidate_boxes(answers)
    assert sorted((b.label, b.top, b.height) for b in result.boxes) == [
        ("bike", 140, 160), ("person", 100, 200)]


def test_a_cluster_takes_the_label_most_workers_gave() -> None:
    answers = [Boxes((Box(label, 0, 0, 10, 10),)) for label in ("dog", "cat", "dog")]
    assert consolidate_boxes(answers).boxes[0].label == "dog"


def test_one_worker_boxes_pass_through_unchanged() -> None:
    drawn = Boxes((Box("dog", 12.5, 30, 200, 150), Box("cat", 1, 2, 3, 4)), adjusted=True)
    assert consolidate_boxes([drawn]) == Boxes(
        (Box("dog", 12.5, 30, 200, 150, 0.0), Box("cat", 1, 2, 3, 4, 0.0)), adjusted=True
    )


def test_adjusted_when_any_worker_adjusted() -> None:
    box = Box("dog", 0, 0, 10, 10)
    assert consolidate_boxes([Boxes((box,), False), Boxes((box,), True)]).adjusted is True
    assert consolidate_boxes([Boxes((box,), False), Boxes((box,), False)]).adjusted is False
    assert consolidate_boxes([Boxes((box,)), Boxes((box,))]).adjusted is None


def test_agreement_of_an_answer_with_the_consolidated_label() -> None:
    assert agreement(Classification("owl"), Classification("owl", 0.9)) == 1.0
    assert agreement(Classification("owl"), Classification("duck")) == 0.0
    assert agreement(MultiLabel(("owl", "duck")), MultiLabel(("owl",))) == 0.5
    dog, cat = Box("dog", 0, 0, 10, 10), Box("cat", 50, 50, 10, 10)
    assert agreement(Boxes((dog, cat)), Boxes((dog,))) == pytest.approx(2 / 3)
    assert agreement(Boxes(()), Boxes(())) == 1.0
    with pytest.raises(TypeError):
        agreement(Classification("owl"), Boxes(()))
