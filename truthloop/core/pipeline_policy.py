"""The decisions of a continuous-improvement pipeline: when a new version trains, whether it
is deployed, which detections people review or audit, and when a schedule next fires.

They follow the seed (FORMATS.md §4.2), a Step Functions state machine whose Lambdas decide:
train when the labeled images minus those the deployed version trained on reach
`Minimum-Untrained-Images` and no version is training; deploy a version only when its F1 is at
least `Minimum-F1-Score` (`>=`: exactly at the minimum passes); send a detection to review when
its top confidence is below `Minimum-Label-Detection-Confidence` (`<`: exactly at the minimum is
not reviewed) and the review flow is on; audit every `Human-Sampling-Interval`-th detection
since the last sample. A decision not to act carries its reason in words a person can act on:
what was counted, against which parameter, and what would change the answer.

Where the seed says nothing, truthloop decides here: a run on demand still respects a running
training and the minimum of new images (`training_due`), a changed schedule applies from the
next tick (`next_tick`). The test split is the training sets' own (`core.holdout`, by a hash of
each file name), at `Test-Split-Percentage`, so a retried training tests on the same images.

Everything here is arithmetic on plain values; `truthloop.pipeline` counts, stores and acts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from truthloop.core.pipeline_params import (
    MINIMUM_CONFIDENCE,
    MINIMUM_F1_SCORE,
    MINIMUM_UNTRAINED_IMAGES,
)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to go ahead, and why (or why not), for a person to read."""

    go: bool
    reason: str


def _images(n: int, new: str = "") -> str:
    return f"{n} {new}labeled image{'' if n == 1 else 's'}"


def _untrained(labeled: int, trained: int) -> str:
    """What the dataset holds beyond what the deployed version trained on, in words."""
    if trained == 0:
        return f"{_images(labeled)}, none trained on yet"
    new = labeled - trained
    if new < 0:  # images were taken out of the dataset since the version trained
        return (
            f"no new labeled images since the deployed version (the dataset has {-new} fewer"
            f" than the {trained} it trained on)"
        )
    return f"{_images(new, 'new ')} since the deployed version"


TRAINING_RUNNING = Decision(
    False, "a training of this pipeline is running; the next check follows it"
)
"""The check's answer while another training of the pipeline runs, whatever the counts."""


def training_due(
    *,
    automatic: bool,
    labeled_images: int,
    trained_images: int,
    minimum_untrained: int,
    training_running: bool,
    on_demand: bool = False,
) -> Decision:
    """Whether a new version trains now: no training of the pipeline is running, automatic
    training is on (or a person asked for this run), and the labeled images minus those the
    deployed version trained on (`trained_images`, 0 without one) reach `minimum_untrained`.

    A running training comes first: two trainings of one pipeline never run at once (the
    seed's check skips while any version is training or starting). A run on demand bypasses
    `Enable-Automatic-Training`, the switch of the schedule, but not the minimum: it is the
    schedule's check, sooner, and a version trained on what the deployed one already saw
    costs a training to learn nothing. Whoever wants one on fewer new images lowers
    `Minimum-Untrained-Images`, a change the pipeline records."""
    for what, count in (("labeled images", labeled_images), ("trained images", trained_images)):
        if count < 0:
            raise ValueError(f"{what} must not be negative, not {count}")
    if problem := MINIMUM_UNTRAINED_IMAGES.problem(minimum_untrained):
        raise ValueError(problem)
    if training_running:
        return TRAINING_RUNNING
    if not automatic and not on_demand:
        return Decision(
            False,
            "automatic training is off (Enable-Automatic-Training is false): turn it on, or"
            " run the pipeline on demand",
        )
    counted = _untrained(labeled_images, trained_images)
    missing = minimum_untrained - (labeled_images - trained_images)
    if missing > 0:
        return Decision(
            False,
            f"{counted}; the minimum is {minimum_untrained} (Minimum-Untrained-Images):"
            f" label {missing} more, or lower the minimum",
        )
    return Decision(True, f"{counted}; the minimum is {minimum_untrained}")


def _shown(value: float, other: float) -> str:
    """`value` with the fewest digits (three at least) that tell it from `other`, so that an
    F1 of 0.79996 is not shown as 0.8 beside a minimum of 0.8."""
    for digits in range(3, 18):
        text = f"{value:.{digits}g}"
        if (text == f"{other:.{digits}g}") == (value == other):
            return text
    return repr(value)


def passes_gate(f1: float | None, minimum_f1: float) -> Decision:
    """Whether a new version is deployed: its F1 on the test split is at least `minimum_f1`,
    as the seed's `>=` (exactly at the minimum passes). A version without an F1 (its
    evaluation failed, or the test split held nothing it could score) is refused: nothing
    says it is better than the one deployed, which stays."""
    if problem := MINIMUM_F1_SCORE.problem(minimum_f1):
        raise ValueError(problem)
    if f1 is None or math.isnan(f1):
        return Decision(
            False,
            "the new version has no F1 on its test split, so it is not deployed and the"
            " deployed version stays: see its evaluation for why",
        )
    if not 0.0 <= f1 <= 1.0:
        raise ValueError(f"an F1 score is from 0 to 1, not {f1}")
    shown = f"F1 {_shown(f1, minimum_f1)} on the test split"
    if f1 >= minimum_f1:
        return Decision(True, f"{shown} reaches the minimum {minimum_f1:g} (Minimum-F1-Score)")
    return Decision(
        False,
        f"{shown} is below the minimum {minimum_f1:g} (Minimum-F1-Score): the deployed version"
        " stays; label more images, or lower the minimum",
    )


def review_needed(
    *, confidence: float | None, minimum_confidence: float, review_enabled: bool
) -> bool:
    """Whether a detection goes to human review: the review flow is on and the top
    detection's `confidence` (0-100) is below `minimum_confidence`, strictly, as the seed's
    `<`. Nothing detected (None) counts as 0, as the review work does: an image the model
    finds nothing in is the one it is least sure of, so it is reviewed unless the minimum is
    0, which reviews nothing."""
    if problem := MINIMUM_CONFIDENCE.problem(minimum_confidence):
        raise ValueError(problem)
    score = 0.0 if confidence is None else confidence
    if not 0.0 <= score <= 100.0:  # NaN fails this too
        raise ValueError(f"a detection's confidence is from 0 to 100, not {confidence}")
    return review_enabled and score < minimum_confidence


def _check_interval(interval: int) -> None:
    if isinstance(interval, bool) or interval < 1:
        raise ValueError(f"the sampling interval must be at least 1, not {interval}")


def sample_due(*, detections_since_last_sample: int, interval: int, sampling_enabled: bool) -> bool:
    """Whether a sampling tick has a detection to audit: sampling is on and at least
    `interval` detections have been made since the last sample (the seed's Human Sampling
    loop starts an audit once it finds `Human-Sampling-Interval` unsampled detections)."""
    _check_interval(interval)
    if detections_since_last_sample < 0:
        raise ValueError(f"detections must not be negative, not {detections_since_last_sample}")
    return sampling_enabled and detections_since_last_sample >= interval


def samples_from(detection_numbers: Iterable[int], interval: int) -> list[int]:
    """The detections a sampling tick audits: of the detections since the last sample (their
    1-based sequence numbers), the `interval`-th, the 2 `interval`-th and so on, as the
    seed's loop takes the next `interval` unsampled detections, audits the last of them and
    repeats while there are enough.

    Edge cases: with fewer than `interval` detections nothing is picked, and the detections
    after the last pick wait for the next tick, which counts on from that pick (none is
    skipped nor counted twice). The numbers are taken in order whatever order they come in,
    and a number given twice counts once (a detection logged twice is one detection). Where
    numbers are missing (a detection whose record is gone), detections are counted, not
    numbers: the picks are the `interval`-th detection found, as the seed's query counts
    them. An interval of 1 audits every detection."""
    _check_interval(interval)
    ordered = sorted(set(detection_numbers))
    if ordered and ordered[0] < 1:
        raise ValueError(f"detection numbers start at 1, not {ordered[0]}")
    return ordered[interval - 1 :: interval]


def next_tick(last_tick: datetime, frequency_minutes: int, now: datetime) -> datetime:
    """When a schedule next fires: `frequency_minutes` after its last tick, or `now` when
    that is already past (a tick missed while the process was down, or a frequency lowered
    below the time since the last tick, fires once at once, not once per tick missed).

    A changed frequency applies from the next tick, since the next tick is reckoned from the
    last one with the frequency in force when it is asked: lowered from 720 to 60 minutes
    half an hour after a tick, the next comes half an hour later; raised, it comes later."""
    if isinstance(frequency_minutes, bool) or frequency_minutes < 1:
        raise ValueError(f"a schedule's frequency is at least 1 minute, not {frequency_minutes}")
    if (last_tick.tzinfo is None) != (now.tzinfo is None):
        raise ValueError("the last tick and now must both carry a time zone, or neither")
    return max(last_tick + timedelta(minutes=frequency_minutes), now)
