"""The pipeline's decisions, against plain values worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from truthloop.core.pipeline_policy import (
    Decision,
    next_tick,
    passes_gate,
    review_needed,
    sample_due,
    samples_from,
    training_due,
)


def due(
    labeled: int,
    trained: int,
    *,
    automatic: bool = True,
    minimum: int = 10,
    running: bool = False,
    on_demand: bool = False,
) -> Decision:
    return training_due(
        automatic=automatic,
        labeled_images=labeled,
        trained_images=trained,
        minimum_untrained=minimum,
        training_running=running,
        on_demand=on_demand,
    )


RUNNING = "a training of this pipeline is running; the next check follows it"
OFF = (
    "automatic training is off (Enable-Automatic-Training is false): turn it on, or run the"
    " pipeline on demand"
)


@pytest.mark.parametrize(
    ("decision", "go", "reason"),
    [
        (
            due(17, 10),
            False,
            "7 new labeled images since the deployed version; the minimum is 10"
            " (Minimum-Untrained-Images): label 3 more, or lower the minimum",
        ),
        (due(20, 10), True, "10 new labeled images since the deployed version; the minimum is 10"),
        (due(10, 0), True, "10 labeled images, none trained on yet; the minimum is 10"),
        (
            due(9, 0),
            False,
            "9 labeled images, none trained on yet; the minimum is 10"
            " (Minimum-Untrained-Images): label 1 more, or lower the minimum",
        ),
        (
            due(11, 10),
            False,
            "1 new labeled image since the deployed version; the minimum is 10"
            " (Minimum-Untrained-Images): label 9 more, or lower the minimum",
        ),
        (
            due(11, 10, minimum=1),
            True,
            "1 new labeled image since the deployed version; the minimum is 1",
        ),
        (
            due(8, 10),  # images were taken out of the dataset
            False,
            "no new labeled images since the deployed version (the dataset has 2 fewer than the"
            " 10 it trained on); the minimum is 10 (Minimum-Untrained-Images): label 12 more,"
            " or lower the minimum",
        ),
        # A running training comes first, whatever else holds.
        (due(100, 0, running=True), False, RUNNING),
        (due(100, 0, running=True, on_demand=True), False, RUNNING),
        (due(100, 0, running=True, automatic=False), False, RUNNING),
        # Off: the schedule does not train; a person on demand does.
        (due(100, 0, automatic=False), False, OFF),
        (
            due(100, 0, automatic=False, on_demand=True),
            True,
            "100 labeled images, none trained on yet; the minimum is 10",
        ),
        # On demand keeps the minimum.
        (
            due(15, 10, automatic=False, on_demand=True),
            False,
            "5 new labeled images since the deployed version; the minimum is 10"
            " (Minimum-Untrained-Images): label 5 more, or lower the minimum",
        ),
    ],
)
def test_training_due_says_why(decision: Decision, go: bool, reason: str) -> None:
    assert decision == Decision(go, reason)


@pytest.mark.parametrize(
    ("labeled", "trained", "minimum", "message"),
    [
        (-1, 0, 10, "labeled images must not be negative"),
        (0, -1, 10, "trained images must not be negative"),
        (10, 0, 0, "Minimum-Untrained-Images must be a whole number from 1 to 250,000"),
    ],
)
def test_training_due_refuses_impossible_counts(
    labeled: int, trained: int, minimum: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        due(labeled, trained, minimum=minimum)


@pytest.mark.parametrize(
    ("f1", "minimum", "go", "reason"),
    [
        (0.8, 0.8, True, "F1 0.8 on the test split reaches the minimum 0.8 (Minimum-F1-Score)"),
        (0.85, 0.8, True, "F1 0.85 on the test split reaches the minimum 0.8 (Minimum-F1-Score)"),
        (1.0, 1.0, True, "F1 1 on the test split reaches the minimum 1 (Minimum-F1-Score)"),
        (0.0, 0.0, True, "F1 0 on the test split reaches the minimum 0 (Minimum-F1-Score)"),
        (
            0.78,
            0.8,
            False,
            "F1 0.78 on the test split is below the minimum 0.8 (Minimum-F1-Score): the deployed"
            " version stays; label more images, or lower the minimum",
        ),
        (
            0.79996,  # not shown as 0.8 beside 0.8
            0.8,
            False,
            "F1 0.79996 on the test split is below the minimum 0.8 (Minimum-F1-Score): the"
            " deployed version stays; label more images, or lower the minimum",
        ),
        (
            0.8123456,
            0.95,
            False,
            "F1 0.812 on the test split is below the minimum 0.95 (Minimum-F1-Score): the"
            " deployed version stays; label more images, or lower the minimum",
        ),
    ],
)
def test_the_gate_passes_at_the_minimum_and_above(
    f1: float, minimum: float, go: bool, reason: str
) -> None:
    assert passes_gate(f1, minimum) == Decision(go, reason)


@pytest.mark.parametrize("f1", [None, float("nan")])
def test_a_version_without_an_f1_is_refused(f1: float | None) -> None:
    decision = passes_gate(f1, 0.0)
    assert not decision.go
    assert decision.reason.startswith("the new version has no F1 on its test split")


@pytest.mark.parametrize(
    ("f1", "minimum", "message"),
    [
        (1.2, 0.8, "an F1 score is from 0 to 1, not 1.2"),
        (-0.1, 0.8, "an F1 score is from 0 to 1"),
        (0.9, 1.5, "Minimum-F1-Score must be a number from 0 to 1, not 1.5"),
        (0.9, float("nan"), "Minimum-F1-Score must be a number from 0 to 1"),
    ],
)
def test_the_gate_refuses_impossible_scores(f1: float, minimum: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        passes_gate(f1, minimum)


@pytest.mark.parametrize(
    ("confidence", "minimum", "enabled", "needed"),
    [
        (69.99, 70.0, True, True),
        (70.0, 70.0, True, False),  # the seed reviews below the minimum, not at it
        (70.01, 70.0, True, False),
        (10.0, 70.0, False, False),  # review off
        (None, 70.0, True, True),  # nothing detected counts as 0
        (None, 0.0, True, False),  # a minimum of 0 reviews nothing
        (0.0, 0.0, True, False),
        (99.9, 100.0, True, True),
        (100.0, 100.0, True, False),
    ],
)
def test_review_is_needed_below_the_minimum_with_review_on(
    confidence: float | None, minimum: float, enabled: bool, needed: bool
) -> None:
    assert (
        review_needed(confidence=confidence, minimum_confidence=minimum, review_enabled=enabled)
        is needed
    )


@pytest.mark.parametrize(
    ("confidence", "minimum", "message"),
    [
        (0.5, 170.0, "Minimum-Label-Detection-Confidence must be a number from 0 to 100 %"),
        (100.5, 70.0, "a detection's confidence is from 0 to 100, not 100.5"),
        (-1.0, 70.0, "a detection's confidence is from 0 to 100"),
        (float("nan"), 70.0, "a detection's confidence is from 0 to 100"),
    ],
)
def test_review_needed_refuses_impossible_confidences(
    confidence: float, minimum: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        review_needed(confidence=confidence, minimum_confidence=minimum, review_enabled=True)


@pytest.mark.parametrize(
    ("since", "interval", "enabled", "due_now"),
    [
        (999, 1000, True, False),
        (1000, 1000, True, True),
        (5000, 1000, True, True),
        (5000, 1000, False, False),
        (0, 1, True, False),
        (1, 1, True, True),
    ],
)
def test_a_sample_is_due_once_an_interval_of_detections_is_made(
    since: int, interval: int, enabled: bool, due_now: bool
) -> None:
    assert (
        sample_due(detections_since_last_sample=since, interval=interval, sampling_enabled=enabled)
        is due_now
    )


@pytest.mark.parametrize(
    ("detections", "interval", "picks"),
    [
        (3499, 1000, [1000, 2000, 3000]),
        (3000, 1000, [1000, 2000, 3000]),
        (999, 1000, []),
        (0, 1000, []),
        (5, 1, [1, 2, 3, 4, 5]),
        (2500, 7, list(range(7, 2501, 7))),
    ],
)
def test_every_interval_th_detection_is_sampled(
    detections: int, interval: int, picks: list[int]
) -> None:
    assert samples_from(range(1, detections + 1), interval) == picks


def test_the_detections_after_the_last_pick_count_toward_the_next_tick() -> None:
    # 3,499 detections: this tick picks 1,000, 2,000 and 3,000; 499 wait, and counting on
    # from 3,000, the next tick picks the 1,000th after it, the 4,000th of the stream.
    assert samples_from(range(1, 3500), 1000) == [1000, 2000, 3000]
    assert samples_from(range(1, 1001), 1000) == [1000]
    # Ticks at any points of a stream pick what one tick over the whole stream picks.
    stream = range(1, 4321)
    picked: list[int] = []
    last = 0
    for cut in (17, 999, 1000, 2500, 4320):
        since = [n - last for n in stream if last < n <= cut]
        picked += [last + n for n in samples_from(since, 100)]
        last = picked[-1] if picked else 0
    assert picked == samples_from(stream, 100)


def test_sampling_counts_detections_once_in_order_even_with_gaps() -> None:
    assert samples_from([4, 2, 1, 3, 2, 6], 2) == [2, 4]  # sorted, 2 once; 6 is the 5th found
    assert samples_from([1, 2, 5, 6, 9], 2) == [2, 6]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: samples_from([1, 2], 0), "the sampling interval must be at least 1"),
        (lambda: samples_from([0, 1], 1), "detection numbers start at 1, not 0"),
        (
            lambda: sample_due(detections_since_last_sample=-1, interval=1, sampling_enabled=True),
            "detections must not be negative",
        ),
        (
            lambda: sample_due(detections_since_last_sample=1, interval=0, sampling_enabled=True),
            "the sampling interval must be at least 1",
        ),
    ],
)
def test_sampling_refuses_impossible_inputs(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("frequency", "now", "expected"),
    [
        (720, T0 + timedelta(minutes=30), T0 + timedelta(minutes=720)),
        # Lowered to 60 half an hour after the tick: the next comes half an hour later.
        (60, T0 + timedelta(minutes=30), T0 + timedelta(minutes=60)),
        # Lowered below the time since the tick: once, now.
        (60, T0 + timedelta(minutes=90), T0 + timedelta(minutes=90)),
        # Raised: later.
        (1440, T0 + timedelta(minutes=800), T0 + timedelta(minutes=1440)),
        # Exactly due.
        (60, T0 + timedelta(minutes=60), T0 + timedelta(minutes=60)),
        # Down for three days at 720: one tick, now, not six.
        (720, T0 + timedelta(days=3), T0 + timedelta(days=3)),
    ],
)
def test_the_next_tick_is_reckoned_from_the_last_with_the_frequency_in_force(
    frequency: int, now: datetime, expected: datetime
) -> None:
    assert next_tick(T0, frequency, now) == expected


def test_next_tick_refuses_a_zero_frequency_and_mixed_time_zones() -> None:
    with pytest.raises(ValueError, match="at least 1 minute, not 0"):
        next_tick(T0, 0, T0)
    with pytest.raises(ValueError, match="both carry a time zone, or neither"):
        next_tick(T0, 60, datetime(2024, 5, 1, 13, 0))
