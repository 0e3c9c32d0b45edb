"""The threshold meets the target accuracy on the Clopper–Pearson upper bound, not the mean."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthloop.core.thresholds import (
    accuracy_interval,
    binomial_cdf,
    bound_at_most,
    checkpoints,
    choose_threshold,
    coverage,
    error_upper_bound,
    validation_needed,
    worth_second_opinions,
)


@pytest.mark.parametrize(
    ("errors", "n", "bound"),
    [
        (0, 59, 1 - 0.05 ** (1 / 59)),  # closed form with no errors: 0.0495
        (0, 100, 0.02951),  # the "rule of three" case: ~3/n
        (1, 10, 0.39416),  # one-sided 95 % tables (e.g. Clopper & Pearson 1934; NIST)
        (5, 100, 0.10225),
        (2, 20, 0.28262),
        (10, 10, 1.0),
    ],
)
def test_upper_bound_matches_hand_computed_values(errors: int, n: int, bound: float) -> None:
    assert error_upper_bound(errors, n) == pytest.approx(bound, abs=5e-5)


def test_one_error_in_93_is_just_under_five_percent_and_in_92_just_over() -> None:
    # (1-p)^n + n p (1-p)^(n-1) = 0.05 at p = 0.05 lies between n = 92 and n = 93.
    assert binomial_cdf(1, 93, 0.05) < 0.05 < binomial_cdf(1, 92, 0.05)
    assert bound_at_most(1, 93, 0.05) and not bound_at_most(1, 92, 0.05)
    assert error_upper_bound(1, 93) <= 0.05 < error_upper_bound(1, 92)


# Computed by the bisection on a hand-written binomial sum that scipy.stats replaced; the bound
# and the CDF must agree with them to the last digits, so that no threshold moves.
@pytest.mark.parametrize(
    ("errors", "n", "confidence", "bound"),
    [
        (0, 1, 0.95, 0.95),
        (0, 59, 0.95, 0.04950760988822689),
        (1, 93, 0.95, 0.049993978387988476),
        (1, 92, 0.95, 0.050526360876957895),
        (3, 200, 0.9, 0.03309747022756305),
        (5, 100, 0.95, 0.10225337764327468),
        (7, 124, 0.99, 0.12440052226806679),
        (12, 40, 0.8, 0.3773391836584685),
        (50, 1000, 0.95, 0.06286340351237747),
        (399, 400, 0.95, 0.9998717749855611),
        (2, 5000, 0.975, 0.0014441827958685503),
        (0, 3000, 0.999, 0.0022999361774467264),
    ],
)
def test_upper_bound_to_the_last_digits(
    errors: int, n: int, confidence: float, bound: float
) -> None:
    assert error_upper_bound(errors, n, confidence) == pytest.approx(bound, rel=0, abs=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "p", "cdf"),
    [
        (1, 93, 0.05, 0.04997579524261714),
        (0, 59, 0.05, 0.04849452524942322),
        (4, 124, 0.05, 0.25213669264539174),
        (10, 300, 0.02, 0.9590379409353771),
        (30, 1000, 0.05, 0.0012770679174787256),
    ],
)
def test_binomial_cdf_to_the_last_digits(k: int, n: int, p: float, cdf: float) -> None:
    assert binomial_cdf(k, n, p) == pytest.approx(cdf, rel=1e-12, abs=0)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    share=st.floats(0, 1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.975, 0.99]),
)
def test_the_bound_is_where_the_binomial_sum_falls_to_alpha(
    n: int, share: float, confidence: float
) -> None:
    errors = min(n - 1, round(share * n))
    bound = error_upper_bound(errors, n, confidence)
    chance = sum(
        math.comb(n, i) * bound**i * (1 - bound) ** (n - i) for i in range(errors + 1)
    )
    assert chance == pytest.approx(1 - confidence, rel=1e-9)


def test_a_higher_confidence_gives_a_higher_bound() -> None:
    assert error_upper_bound(2, 50, 0.99) > error_upper_bound(2, 50, 0.95)


@pytest.mark.parametrize(("errors", "n", "confidence"), [(3, 2, 0.95), (0, 0, 0.95), (0, 5, 1.0)])
def test_bad_arguments_are_refused(errors: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        error_upper_bound(errors, n, confidence)


def _scored(right_high: int, wrong_low: int) -> list[tuple[float, bool]]:
    """`right_high` right items scored 0.99..., then `wrong_low` wrong ones below 0.5."""
    good = [(0.99 - i * 1e-4, True) for i in range(right_high)]
    bad = [(0.4 - i * 1e-3, False) for i in range(wrong_low)]
    return good + bad


def test_the_point_estimate_is_not_enough() -> None:
    # 40 right items: 100 % on the mean, but the bound (7.2 %) misses 95 %.
    assert choose_threshold(_scored(40, 10)) is None


def test_thresholds_are_tested_where_the_bound_tolerates_one_more_error() -> None:
    assert checkpoints(125, 0.95) == [59, 93, 124, 125]
    assert checkpoints(93, 0.95) == [59, 93]
    assert checkpoints(58, 0.95) == []  # too few even without an error
    assert checkpoints(125, 0.95, 0.99)[0] == 90


def test_the_threshold_stops_at_the_last_checkpoint_that_holds() -> None:
    # The 59 surest right qualify (bound 4.9 %); all 90 hold 30 errors: the search ends.
    chosen = choose_threshold(_scored(60, 30))
    assert chosen is not None
    assert chosen.threshold == pytest.approx(0.99 - 58e-4)  # the 59th surest item
    assert (chosen.items, chosen.errors) == (59, 0)
    assert chosen.accuracy_bound == pytest.approx(0.05 ** (1 / 59))


def test_an_error_among_the_surest_ends_the_search_however_clean_the_rest_looks() -> None:
    """Scanning for the lowest threshold that qualifies would take 1 error in the 96 surest
    (bound 4.9 %); tested in sequence, the first checkpoint (59 without an error) fails."""
    scored = [(1.0 - n / 1000, n != 37) for n in range(96)] + [(0.5, False)] * 30
    assert choose_threshold(scored) is None
    late = [(1.0 - n / 1000, n != 70) for n in range(96)] + [(0.5, False)] * 30
    chosen = choose_threshold(late)  # the error after the 59th: 93 with one error hold
    assert chosen is not None and (chosen.items, chosen.errors) == (93, 1)


def test_some_errors_are_accepted_when_the_bound_allows_them() -> None:
    scored = [(0.9, True)] * 93 + [(0.9, False)] + [(0.2, False)] * 5
    chosen = choose_threshold(scored)
    assert chosen is not None and (chosen.threshold, chosen.items, chosen.errors) == (0.9, 94, 1)
    assert chosen.accuracy_bound >= 0.95
    # one more error at the same confidence and nothing qualifies
    assert choose_threshold([*scored, (0.9, False)]) is None


def test_a_lower_target_gives_a_lower_threshold() -> None:
    scored = _scored(100, 0) + [(0.5 - i * 1e-3, i % 10 != 0) for i in range(100)]
    strict = choose_threshold(scored, 0.95)
    loose = choose_threshold(scored, 0.8)
    assert strict is not None and loose is not None
    assert loose.threshold < strict.threshold


def test_coverage_reports_accuracy_and_bound() -> None:
    found = coverage(0.5, [(0.9, True), (0.8, False), (0.1, False)])
    assert (found.items, found.errors, found.accuracy) == (2, 1, 0.5)
    assert found.accuracy_bound == pytest.approx(1 - error_upper_bound(1, 2))
    assert coverage(0.95, [(0.9, True)]).items == 0


def test_bad_target_is_refused() -> None:
    with pytest.raises(ValueError, match="target accuracy"):
        choose_threshold([(0.9, True)], 1.0)


def _validation(
    right: int, disputed: int, confirmed_wrong: int = 0, score: float = 0.9
) -> tuple[list[tuple[float, bool]], dict[int, float]]:
    """Validation items all at `score`; the disputed ones are items 0.. as (id -> score)."""
    scored = [(score, True)] * right + [(score, False)] * (disputed + confirmed_wrong)
    return scored, {i: score for i in range(disputed)}


def test_second_opinions_are_asked_where_they_could_lower_the_threshold() -> None:
    # 5 of 100 disputed: nothing qualifies now; were the model right on them, all 100 would
    scored, disputed = _validation(95, 5)
    assert choose_threshold(scored) is None
    assert worth_second_opinions(disputed, None, scored) == (0, 1, 2, 3, 4)


def test_no_second_opinions_on_what_is_mostly_the_models_own_error() -> None:
    scored, disputed = _validation(70, 30)  # more than a fifth: not people's slips
    assert worth_second_opinions(disputed, None, scored) == ()


def test_second_opinions_are_asked_among_the_surest_where_disputes_are_few() -> None:
    # 3 of the 60 surest disputed (people's slips, likely), and 30 of the 40 least sure (the
    # model's own errors): asking all 33 would be mostly waste, asking the 3 frees the 60
    scored = [(0.99, True)] * 57 + [(0.99, False)] * 3 + [(0.5, True)] * 10 + [(0.5, False)] * 30
    disputed = {i: 0.99 for i in range(3)} | {i: 0.5 for i in range(3, 33)}
    assert choose_threshold(scored) is None
    assert worth_second_opinions(disputed, None, scored) == (0, 1, 2)


def test_no_second_opinions_when_they_could_not_help() -> None:
    # two errors that a second person already confirmed keep every threshold out of reach
    scored, disputed = _validation(50, 1, confirmed_wrong=2)
    assert worth_second_opinions(disputed, None, scored) == ()
    # the threshold is already the lowest there is
    scored = [(0.5, True)] * 100 + [(0.99, False)]
    chosen = choose_threshold(scored)
    assert chosen is not None and chosen.threshold == 0.5
    assert worth_second_opinions({7: 0.99}, chosen, scored) == ()
    assert worth_second_opinions({}, None, scored) == ()


def test_the_validation_set_grows_when_only_the_bound_holds_the_threshold_back() -> None:
    # 80 items the model is sure of, one wrong: right at 98.75 %, bounded at only 94 %
    scored = [(0.9, True)] * 79 + [(0.9, False)] + [(0.3, False)] * 20
    assert choose_threshold(scored) is None
    needed = validation_needed(scored, None, most=250)
    assert needed is not None
    size, threshold = needed
    assert threshold == 0.9
    # at that size the same share, wrong as often, qualifies; one item fewer does not
    n = round(0.8 * size)
    assert bound_at_most(round(n / 80), n, 0.05)
    smaller = round(0.8 * (size - 1))
    assert not bound_at_most(round(smaller / 80), smaller, 0.05)
    assert 100 < size <= 250


def test_the_validation_set_does_not_grow_when_the_model_is_the_limit() -> None:
    # the confident items are wrong too often: no size would make them qualify
    scored = [(0.9, True)] * 90 + [(0.9, False)] * 10
    assert validation_needed(scored, None, most=250) is None
    # a lower threshold exists only past what `most` allows
    scored = [(0.9, True)] * 79 + [(0.9, False)] + [(0.3, False)] * 20
    assert validation_needed(scored, None, most=101) is None
    # nothing to grow: the threshold is already the lowest there is, or no room is left
    scored = [(0.5, True)] * 100
    chosen = choose_threshold(scored)
    assert validation_needed(scored, chosen, most=250) is None
    assert validation_needed(scored[:50], None, most=50) is None
    assert validation_needed([], None, most=250) is None


def test_growth_aims_at_the_lowest_threshold_it_could_certify() -> None:
    # 100 sure and right (qualifies at 0.9), 30 more at 0.6 with three wrong: 97.7 % right
    # down to 0.6, bounded at 94.1 %
    scored = [(0.9, True)] * 100 + [(0.6, True)] * 27 + [(0.6, False)] * 3 + [(0.2, False)] * 40
    chosen = choose_threshold(scored)
    assert chosen is not None and chosen.threshold == 0.9
    needed = validation_needed(scored, chosen, most=250)
    assert needed is not None and needed[1] == 0.6 and needed[0] > len(scored)


@pytest.mark.parametrize(
    ("right", "n", "low", "high"),
    [
        # Exact two-sided 95 % intervals (beta quantiles; 0 of 10 gives 1 - 0.025 ** (1 / 10)).
        (0, 10, 0.0, 1 - 0.025 ** (1 / 10)),
        (10, 10, 0.025 ** (1 / 10), 1.0),
        (1, 7, 0.0036103, 0.5787232),
        (50, 100, 0.3983211, 0.6016789),
    ],
)
def test_the_audit_interval_is_clopper_pearson(right: int, n: int, low: float, high: float) -> None:
    assert accuracy_interval(right, n) == pytest.approx((low, high), abs=1e-6)


def test_the_audit_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="errors <= n"):
        accuracy_interval(8, 7)
