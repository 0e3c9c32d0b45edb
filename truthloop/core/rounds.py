"""The round policy of automated labeling: how many items people label next, when the model gets
one more round, and when the validation set is worth growing.

Sizes. A job's batch defaults to a tenth of its items (20-250) and its validation set to an
eighth (100-250), growing toward a sixth (100-250) where that pays (`validation_worth_growing`).
Zero errors in 59 items is the least that bounds the error at 5 % (95 % confidence), but a model
is rarely perfect on the images it is surest of: one error takes 93 items, two 124, five 208
(people's slips are settled by second opinions; the model's own errors are not). On 1,250
synthetic logos, in 600 validation sets drawn from one early detector's predictions, 125 items
certified nothing in 77 % of draws, 150 in 47 % and 166 in 38 %: the pool labeled, net of the
extra validation labels, rose from 90 to 149 images; at 188 and 208 it fell again. Hence an
eighth to start, and a sixth only when the bound is what holds the machine back.

A round. People label a batch: the validation set first (drawn whole with the first batch, at
random, beside a batch for training; only a budget cut leaves some of it for later), then the
items the model is least sure of. A chained job's first batch is its validation set alone: its
initial model is ready to label. While validation items are disputed (the model and the one
person who labeled them differ), the next round asks second opinions on them alone, when the
budget pays for them.

The end game. When no more than a batch is left after a round in which the model labeled,
people get the less certain half and the model, trained on that too, a round on the rest, for
as long as it is expected to label one item and saves people more than its training costs
(`another_round_pays`: it is expected to label the share it labeled last round). A model that
labeled nothing but came within a batch of the target (`within_a_batch_of_target`: its
validation accuracy, gaining as much again as since the model before, would pass it) gets its
next chance after half a batch: people label no more than the model may need.

Everything here is arithmetic on plain values; `truthloop.labeling.autolabel` draws the items
and stores the rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from truthloop.core.thresholds import Coverage, validation_needed

# Money is compared with this much slack, so that a budget that pays exactly for n tasks pays
# for n despite floating-point rounding.
BUDGET_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class SizeRule:
    """A default size: `1/per` of the items (rounded down), no fewer than `least` and no more
    than `most`."""

    per: int
    least: int
    most: int

    def of(self, items: int) -> int:
        return min(max(items // self.per, self.least), self.most)


BATCH = SizeRule(per=10, least=20, most=250)
VALIDATION = SizeRule(per=8, least=100, most=250)
VALIDATION_MAX = SizeRule(per=6, least=100, most=250)


@dataclass(frozen=True, slots=True)
class Sizes:
    """A job's batch size, its validation set's starting size and the size it may grow to
    (None: it stays as it is)."""

    batch: int
    validation: int
    validation_max: int | None


def job_sizes(
    items: int,
    *,
    batch: int | None = None,
    validation: int | None = None,
    validation_max: int | None = None,
) -> Sizes:
    """The sizes given, the defaults for a job of `items` items for the others. A validation
    size given stays fixed unless a maximum is given too."""
    start = validation or VALIDATION.of(items)
    most = validation_max or (None if validation else max(VALIDATION_MAX.of(items), start))
    return Sizes(batch or BATCH.of(items), start, most)


class Step(StrEnum):
    RELEASE = "release"  # people label `size` items, `held_out` of them for validation
    SECOND_OPINIONS = "second opinions"  # people label the disputed validation items again
    COMPLETE = "complete"  # no item is left to label
    STOP = "stop"  # the budget pays for no more labels


@dataclass(frozen=True, slots=True)
class BatchState:
    """Where a job stands when its next batch is sized."""

    released: int  # batches released so far (0: the job is being created)
    pool: int  # items neither labeled nor released
    batch_size: int
    validation_missing: int  # validation items still to be drawn
    chained: bool  # the job starts from an initial model
    price: float  # what people's labels of one item cost
    budget: float | None
    spent: float
    disputed: int = 0  # validation items worth a second opinion
    machine_labeled: int = 0  # items the last round's model labeled
    training_cost: float = 0.0  # the compute cost of the job's last training
    half_batch: bool = False  # the model came within a batch of the target


@dataclass(frozen=True, slots=True)
class NextBatch:
    """What the job does next; for RELEASE, `size` items, `held_out` of them for validation."""

    step: Step
    size: int = 0
    held_out: int = 0

    @property
    def for_training(self) -> int:
        return self.size - self.held_out


def training_batch(state: BatchState) -> int:
    """How many items people label for training in the next batch, before the end game and
    the budget: none in a chained job's first batch, half a batch after a model that came
    within a batch of the target, else a batch."""
    if state.released == 0 and state.chained:
        return 0
    if state.half_batch:
        return math.ceil(state.batch_size / 2)
    return state.batch_size


def next_batch(state: BatchState) -> NextBatch:
    """The job's next step (see the module's docstring)."""
    if state.released > 0 and state.pool == 0:
        return NextBatch(Step.COMPLETE)
    affordable = (
        state.budget is None
        or state.price * state.disputed <= state.budget - state.spent + BUDGET_SLACK
    )
    if state.disputed and affordable:
        return NextBatch(Step.SECOND_OPINIONS)
    missing = state.validation_missing
    train = training_batch(state)
    size = min(train + missing, state.pool)
    unsure = state.pool - missing
    if unsure <= train and another_round_pays(
        state.machine_labeled, state.pool, unsure, state.training_cost, state.price
    ):
        size = missing + math.ceil(unsure / 2)
    if state.budget is not None and state.price > 0:
        size = min(size, int((state.budget - state.spent) / state.price + BUDGET_SLACK))
    if size <= 0:
        return NextBatch(Step.STOP)
    if size >= train + missing or (state.released == 0 and state.chained):
        held_out = min(missing, size)
    else:  # a budget cut: half of what it pays for goes to validation, the rest to training
        held_out = min(missing, math.ceil(size / 2))
    return NextBatch(Step.RELEASE, size, held_out)


def another_round_pays(
    labeled: int, left: int, unsure: int, training_cost: float, price: float
) -> bool:
    """Whether the model, trained also on the less certain half of the `unsure` items left,
    would likely label at least one of the other half, saving people more than a training
    costs: it is expected to label the share it labeled last round (`labeled` of `labeled +
    left`)."""
    if labeled == 0:
        return False
    expected = labeled / (labeled + left) * (unsure // 2)
    return expected >= 1 and training_cost <= expected * price


class Measured(Protocol):
    """A round as far as `within_a_batch_of_target` needs it."""

    @property
    def validation_accuracy(self) -> float | None: ...

    @property
    def machine_labeled(self) -> int: ...

    @property
    def model_version(self) -> str | None: ...


def within_a_batch_of_target(rounds: Sequence[Measured], target: float) -> bool:
    """Whether the last round's model, which labeled nothing, would pass the target accuracy
    on the validation set if the next batch taught it as much as the last taught the model
    before it (the rounds, in order, the last one included)."""
    last = rounds[-1]
    if last.validation_accuracy is None or last.machine_labeled:
        return False
    before = [
        r.validation_accuracy
        for r in rounds[:-1]
        if r.model_version not in (None, last.model_version) and r.validation_accuracy is not None
    ]
    return bool(before) and 2 * last.validation_accuracy - before[-1] >= target


def validation_worth_growing(
    pool: Sequence[float],
    scored: Sequence[tuple[float, bool]],
    chosen: Coverage | None,
    most: int,
    target: float,
    confidence: float,
) -> int | None:
    """The validation size to grow to, when a lower threshold it would certify labels more
    of the pool than the items added cost people (see `core.thresholds.validation_needed`).
    `pool` is the model's confidence in each item left to label, `scored` the validation
    set's (confidence, right), `chosen` the threshold it certifies now."""
    needed = validation_needed(scored, chosen, most, target, confidence)
    if needed is None:
        return None
    size, lower = needed
    now = chosen.threshold if chosen else math.inf
    gained = sum(1 for score in pool if lower <= score < now)
    return size if gained > size - len(scored) else None
