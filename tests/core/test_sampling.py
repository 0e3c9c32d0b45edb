"""Next human batch: most uncertain first, but not twenty copies of one hard case."""

from __future__ import annotations

import pytest

from truthloop.core.confidence import class_distribution, empty_share, image_confidence
from truthloop.core.sampling import Candidate, cosine, random_batch, uncertainty_batch
from truthloop.core.types import Box, Boxes, Classification

LABELS = ("a", "b", "c")


def _candidate(item: int, label: str, confidence: float) -> Candidate:
    value = Classification(label, confidence)
    return Candidate(item, 1 - confidence, class_distribution(value, LABELS))


def test_without_diversity_the_most_uncertain_come_first() -> None:
    pool = [_candidate(i, "a", 0.5 + i / 100) for i in range(10)]
    assert uncertainty_batch(pool, 3, diversity=0.0) == [0, 1, 2]


def test_a_batch_is_not_twenty_copies_of_one_hard_case() -> None:
    # Twenty near-identical hard cases (all "a" at ~0.4) and a few less uncertain others.
    hard = [_candidate(i, "a", 0.40 + i / 1000) for i in range(20)]
    others = [_candidate(100, "b", 0.6), _candidate(101, "c", 0.65)]
    batch = uncertainty_batch(hard + others, 5)
    assert batch[0] == 0
    assert {100, 101} <= set(batch)
    assert len(set(batch)) == 5
    plain = uncertainty_batch(hard + others, 5, diversity=0.0)
    assert not {100, 101} & set(plain)


def test_batch_size_bounds() -> None:
    pool = [_candidate(i, "a", 0.5) for i in range(3)]
    assert len(uncertainty_batch(pool, 10)) == 3
    assert uncertainty_batch(pool, 0) == []
    with pytest.raises(ValueError):
        uncertainty_batch(pool, -1)


def test_random_batch_is_a_seeded_sample() -> None:
    items = list(range(100))
    first = random_batch(items, 10, seed=3)
    assert first == random_batch(items, 10, seed=3) != random_batch(items, 10, seed=4)
    assert len(set(first)) == 10 and set(first) <= set(items)
    assert sorted(random_batch(items[:4], 10)) == [0, 1, 2, 3]


def test_cosine() -> None:
    assert cosine((1, 0), (2, 0)) == pytest.approx(1.0)
    assert cosine((1, 0), (0, 1)) == 0.0
    assert cosine((0, 0), (1, 1)) == 0.0


def test_class_confidence_is_the_label_confidence() -> None:
    value = Classification("a", 0.8)
    assert image_confidence(value) == (value, 0.8)
    mean = 1 / 3  # features are centred on the mean share
    expected = (0.8 - mean, 0.1 - mean, 0.1 - mean)
    assert class_distribution(value, LABELS) == pytest.approx(expected)


def test_box_image_confidence_needs_every_kept_box_sure_and_nothing_missing() -> None:
    sure = Box("a", 0, 0, 10, 10, 0.97)
    shaky = Box("b", 20, 20, 10, 10, 0.7)
    maybe_missed = Box("a", 40, 40, 10, 10, 0.3)
    noise = Box("c", 40, 0, 10, 10, 0.02)
    label, score = image_confidence(Boxes((sure, noise)))
    assert label == Boxes((sure,)) and score == pytest.approx(0.98**2)
    assert image_confidence(Boxes((sure, shaky)))[1] == pytest.approx(0.7)
    # a low candidate that may be a missed object makes the whole image unsure, more so than
    # a kept box of the same doubt (one minus its confidence, squared)
    label, score = image_confidence(Boxes((sure, maybe_missed)))
    assert label == Boxes((sure,)) and score == pytest.approx(0.49)
    assert score < image_confidence(Boxes((sure, Box("b", 20, 20, 10, 10, 0.7))))[1]
    # nothing at all looked like an object: sure there is none
    assert image_confidence(Boxes(())) == (Boxes(()), 1.0)


def test_an_image_left_empty_is_as_sure_as_empty_images_are_common() -> None:
    faint = Box("a", 0, 0, 10, 10, 0.07)  # the peak of a head the model missed, say
    # people found something in each of 48 images: leaving one empty is rarely right
    rare = empty_share([Boxes((Box("a", 0, 0, 5, 5),))] * 48)
    assert rare == pytest.approx(1 / 50)
    label, score = image_confidence(Boxes((faint,)), empty=rare)
    assert label == Boxes(()) and score == pytest.approx(1 / 50)
    assert image_confidence(Boxes(()), empty=rare)[1] == pytest.approx(1 / 50)
    # where people leave most images empty, the model's own doubt decides
    common = empty_share([Boxes(())] * 40 + [Boxes((Box("a", 0, 0, 5, 5),))] * 8)
    assert common == pytest.approx(41 / 50)
    doubtful = Box("a", 0, 0, 10, 10, 0.2)
    assert image_confidence(Boxes((doubtful,)), empty=common)[1] == pytest.approx(0.8**2)
    assert image_confidence(Boxes((faint,)), empty=common)[1] == pytest.approx(41 / 50)
    # an image with a kept box is not an empty claim
    sure = Box("a", 0, 0, 10, 10, 0.97)
    assert image_confidence(Boxes((sure,)), empty=rare)[1] == pytest.approx(0.97)
    # without box labels there is nothing to tell
    assert empty_share([Classification("a", 0.9)]) is None
