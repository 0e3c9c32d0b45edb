"""The round policy of automated labeling, against sizes worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from truthloop.core.rounds import (
    BATCH,
    VALIDATION,
    VALIDATION_MAX,
    BatchState,
    NextBatch,
    Sizes,
    Step,
    another_round_pays,
    job_sizes,
    next_batch,
    training_batch,
    validation_worth_growing,
    within_a_batch_of_target,
)


@pytest.mark.parametrize(
    ("items", "batch", "validation", "most"),
    [
        (1200, 120, 150, 200),  # a tenth, an eighth, a sixth
        (300, 30, 100, 100),  # the validation set's least, 100, over 37 and 50
        (100, 20, 100, 100),  # the batch's least, 20, over 10
        (6000, 250, 250, 250),  # every size at its most
    ],
)
def test_default_sizes_are_shares_of_the_items_within_bounds(
    items: int, batch: int, validation: int, most: int
) -> None:
    assert (BATCH.of(items), VALIDATION.of(items), VALIDATION_MAX.of(items)) == (
        batch,
        validation,
        most,
    )
    assert job_sizes(items) == Sizes(batch, validation, most)


def test_sizes_given_are_kept_and_a_validation_size_given_stays_fixed() -> None:
    assert job_sizes(1200, batch=50) == Sizes(50, 150, 200)
    assert job_sizes(1200, validation=150) == Sizes(120, 150, None)
    assert job_sizes(1200, validation=150, validation_max=240) == Sizes(120, 150, 240)
    assert job_sizes(1200, validation_max=240) == Sizes(120, 150, 240)
    # a validation size given above the default sixth stays as it is
    assert job_sizes(300, validation=120) == Sizes(30, 120, None)


def _state(**changes: object) -> BatchState:
    terms: dict[str, object] = {
        "released": 1,
        "pool": 1000,
        "batch_size": 100,
        "validation_missing": 0,
        "chained": False,
        "price": 0.1,
        "budget": None,
        "spent": 0.0,
    }
    return BatchState(**{**terms, **changes})  # type: ignore[arg-type]


def test_the_first_batch_is_a_batch_for_training_and_the_whole_validation_set() -> None:
    first = next_batch(_state(released=0, validation_missing=125))
    assert first == NextBatch(Step.RELEASE, 225, 125)
    assert first.for_training == 100


def test_a_chained_jobs_first_batch_is_its_validation_set_alone() -> None:
    state = _state(released=0, validation_missing=125, chained=True)
    assert training_batch(state) == 0
    assert next_batch(state) == NextBatch(Step.RELEASE, 125, 125)
    # later batches of the same job train as any other
    assert next_batch(_state(released=1, chained=True)) == NextBatch(Step.RELEASE, 100, 0)


def test_the_job_completes_when_nothing_is_left_after_a_round() -> None:
    assert next_batch(_state(released=3, pool=0)).step is Step.COMPLETE
    # before the first batch, an empty dataset has nothing to pay for: the job stops
    assert next_batch(_state(released=0, pool=0)).step is Step.STOP


def test_disputed_items_get_second_opinions_when_the_budget_pays_for_them() -> None:
    assert next_batch(_state(disputed=4)).step is Step.SECOND_OPINIONS
    # 4 x 0.1 = 0.4 fits in 1.0 - 0.6 = 0.4 exactly (within the slack)
    assert next_batch(_state(disputed=4, budget=1.0, spent=0.6)).step is Step.SECOND_OPINIONS
    # 0.4 does not fit in 0.05, and neither does one more item: the job stops
    assert next_batch(_state(disputed=4, budget=1.0, spent=0.95)).step is Step.STOP


def test_a_budget_cut_splits_what_it_pays_for_between_validation_and_training() -> None:
    # 10.00 pays for 100 of the 225 items: half of them (50) validation, 50 for training
    cut = next_batch(_state(released=0, validation_missing=125, budget=10.0))
    assert cut == NextBatch(Step.RELEASE, 100, 50)
    # 0.3 / 0.1 is 2.9999999999999996 in floating point: the slack makes it pay for 3
    assert next_batch(_state(budget=0.3)).size == 3


def test_half_a_batch_after_a_model_within_a_batch_of_the_target() -> None:
    assert next_batch(_state(batch_size=75, half_batch=True)) == NextBatch(Step.RELEASE, 38, 0)


def test_people_take_the_less_certain_half_of_the_last_batch_while_the_model_pays() -> None:
    # 70 left, a batch of 70, the model labeled 50 last round: it is expected to label
    # 50 / 120 of the other 35 (14.6 items), so people get 35
    state = _state(pool=70, batch_size=70, machine_labeled=50)
    assert next_batch(state) == NextBatch(Step.RELEASE, 35, 0)
    # a model that labeled nothing gets no such round: people take the 70
    assert next_batch(_state(pool=70, batch_size=70)) == NextBatch(Step.RELEASE, 70, 0)


def test_another_round_is_given_only_when_it_saves_more_than_the_training_costs() -> None:
    # last round: 10 labeled of 20; of 10 unsure items people take 5, the model likely 2.5
    assert another_round_pays(10, 10, 10, training_cost=0.0, price=0.0)
    assert another_round_pays(10, 10, 10, training_cost=0.5, price=0.2)  # 0.5 <= 2.5 x 0.2
    assert not another_round_pays(10, 10, 10, training_cost=0.3, price=0.1)  # 0.3 > 0.25
    assert not another_round_pays(0, 20, 10, training_cost=0.0, price=1.0)  # labeled nothing
    assert not another_round_pays(1, 9, 10, training_cost=0.0, price=1.0)  # likely 0.5 item


@dataclass(frozen=True)
class _Round:
    validation_accuracy: float | None
    model_version: str | None
    machine_labeled: int = 0


def test_a_model_within_a_batch_of_the_target_is_judged_by_the_pace_of_the_one_before() -> None:
    first, second = _Round(0.70, "v1"), _Round(0.84, "v2")
    assert not within_a_batch_of_target([first], 0.95)  # no pace to go by yet
    assert within_a_batch_of_target([first, second], 0.95)  # 0.84 + 0.14 = 0.98
    assert within_a_batch_of_target([first, second], 0.98)
    assert not within_a_batch_of_target([first, second], 0.99)
    # after second opinions, the same model is measured against the one before it
    assert within_a_batch_of_target([first, second, _Round(0.89, "v2")], 0.95)  # 1.08
    assert not within_a_batch_of_target([first, _Round(0.80, "v2")], 0.95)  # 0.90
    assert not within_a_batch_of_target([first, _Round(0.84, "v2", machine_labeled=1)], 0.95)
    assert not within_a_batch_of_target([first, _Round(None, None)], 0.95)


def test_the_validation_set_grows_only_where_the_machine_would_label_more_than_it_costs() -> None:
    # 80 validation items the model is sure of, one wrong, 20 it is not: nothing qualifies
    scored = [(0.9, True)] * 79 + [(0.9, False)] + [(0.3, False)] * 20
    pool = [0.9] * 400  # the model's confidence in each item left to label

    def worth(pool: list[float], most: int = 250) -> int | None:
        return validation_worth_growing(pool, scored, None, most, 0.95, 0.95)

    grown = worth(pool)
    assert grown is not None and 100 < grown <= 250
    # the items added must be outnumbered by those the machine would label: with exactly as
    # many in the pool as are added, it does not grow
    assert worth(pool[: grown - 100]) is None
    assert worth(pool[: grown - 99]) == grown
    assert worth(pool, most=100) is None  # no room to grow
