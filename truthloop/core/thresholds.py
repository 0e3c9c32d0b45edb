"""Choosing the confidence threshold above which the machine labels, so that what it labels is
right at the target accuracy with a stated confidence, not just on the point estimate.

On the validation set (items people labeled and the model never trained on), the items at or
above a threshold have `errors` wrong of `n`. The one-sided Clopper–Pearson upper bound on their
error rate at confidence 1 - alpha is the p at which seeing `errors` or fewer has probability
alpha (the 1 - alpha quantile of Beta(errors + 1, n - errors)); the threshold qualifies when
that bound is at most 1 - target accuracy. A lower threshold labels more items.

The bound holds for one threshold fixed in advance. Scanning every validation confidence and
keeping the lowest that qualifies would choose among many looks, and take the luck of the one
that looks best: on synthetic logos a validation set whose 39th to 96th surest items happened
to be all right certified a threshold at which the same model was 94.2 % right on the rest.
So thresholds are tested in a fixed sequence (Learn then Test: Angelopoulos, Bates, Candès,
Jordan and Lei, 2021), from the surest items down, at the validation sizes where the bound
first tolerates one more error (59, 93, 124, ... items at 95 %/95 %) and at the whole set; the
first that fails ends the search. Each test at the full confidence then keeps the stated
confidence for the threshold chosen.

The validation labels are people's, and people slip; `worth_second_opinions` says which items
the model disputes are worth a second person's label before the threshold is chosen again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# scipy.stats is imported where it is used: it takes most of a second to import, and a command
# that never chooses a threshold should not wait for it.


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    from scipy.stats import binom

    return float(binom.cdf(k, n, p))


def _check(errors: int, n: int, confidence: float) -> None:
    if not 0 <= errors <= n or n < 1:
        raise ValueError(f"need 0 <= errors <= n and n >= 1, not errors={errors}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")


def error_upper_bound(errors: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper bound on an error rate seen as `errors` of `n`."""
    _check(errors, n, confidence)
    if errors == n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(confidence, errors + 1, n - errors))


def accuracy_interval(right: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact two-sided Clopper–Pearson interval of an accuracy seen as `right` of `n`: what
    a sampled audit of a model's confident answers can say about all of them."""
    _check(n - right, n, confidence)
    from scipy.stats import beta

    alpha = 1 - confidence
    low = 0.0 if right == 0 else float(beta.ppf(alpha / 2, right, n - right + 1))
    high = 1.0 if right == n else float(beta.ppf(1 - alpha / 2, right + 1, n - right))
    return low, high


def bound_at_most(errors: int, n: int, limit: float, confidence: float = 0.95) -> bool:
    """Whether the upper bound is at most `limit`, without computing it: the CDF falls as p
    grows, so the bound is below `limit` exactly when the CDF at `limit` is at most alpha."""
    _check(errors, n, confidence)
    if limit >= 1.0:
        return True
    return binomial_cdf(errors, n, limit) <= 1.0 - confidence


@dataclass(frozen=True, slots=True)
class Coverage:
    """The validation items at or above `threshold`: how many, how many wrong, and what that
    says about accuracy (the point estimate and its lower confidence bound)."""

    threshold: float
    items: int
    errors: int
    accuracy: float
    accuracy_bound: float


def coverage(
    threshold: float, scored: Sequence[tuple[float, bool]], confidence: float = 0.95
) -> Coverage:
    """What `scored` ((confidence, correct) per validation item) says at `threshold`."""
    above = [correct for score, correct in scored if score >= threshold]
    if not above:
        return Coverage(threshold, 0, 0, 0.0, 0.0)
    errors = above.count(False)
    bound = error_upper_bound(errors, len(above), confidence)
    return Coverage(threshold, len(above), errors, 1 - errors / len(above), 1 - bound)


def checkpoints(total: int, target_accuracy: float, confidence: float = 0.95) -> list[int]:
    """The validation sizes (surest items first) at which `choose_threshold` tests: the least
    size at which 0, 1, 2, ... errors still meet `target_accuracy` with `confidence`, then
    `total` itself; none when `total` items are too few even without an error."""
    limit = 1.0 - target_accuracy
    sizes: list[int] = []
    for n in range(1, total + 1):
        if bound_at_most(len(sizes), n, limit, confidence):
            sizes.append(n)
    return [*sizes, total] if sizes and sizes[-1] < total else sizes


def choose_threshold(
    scored: Sequence[tuple[float, bool]],
    target_accuracy: float = 0.95,
    confidence: float = 0.95,
) -> Coverage | None:
    """The lowest validation confidence at which the items at or above it meet
    `target_accuracy` with `confidence`, found by fixed-sequence testing at the `checkpoints`
    (see the module docstring); None when the first fails."""
    if not 0.0 < target_accuracy < 1.0:
        raise ValueError(f"target accuracy must be between 0 and 1, not {target_accuracy}")
    limit = 1.0 - target_accuracy
    surest = sorted((score for score, _ in scored), reverse=True)
    chosen = None
    for size in checkpoints(len(surest), target_accuracy, confidence):
        # Every item scored the same as the threshold is at or above it: ties join the test.
        found = coverage(surest[size - 1], scored, confidence)
        if not bound_at_most(found.errors, found.items, limit, confidence):
            break
        chosen = found
    return chosen


def worth_second_opinions(
    disputed: Mapping[K, float],
    chosen: Coverage | None,
    scored: Sequence[tuple[float, bool]],
    target_accuracy: float = 0.95,
    confidence: float = 0.95,
) -> tuple[K, ...]:
    """The validation items where people's labels leave the model's unsettled (`disputed`:
    item -> the model's confidence; among `scored` as wrong: one person who disagrees with the
    model, or people who disagree with it and with each other) that are worth one more
    person's label: those among the surest items, down to where the disputed are still
    at most a fifth of the items, and only when the model being right on them would lower the
    threshold (`chosen` is the one now), down to that lower threshold.

    People slip on about one image in twenty, as often as a 95 % target lets the model err, so
    the slips of one person hide a model that labels well: on synthetic logos, 8 of 125
    validation images were labeled wrong, several among the model's surest. Among the surest
    items a disagreement is most often the person's slip; lower down, where more than a fifth
    disagree, most are the model's own errors, which a second opinion would only confirm."""
    if not disputed:
        return ()
    wrong_at = Counter(score for score, right in scored if not right)
    disputed_at = Counter(disputed.values())
    items_at = Counter(score for score, _ in scored)
    items = disputes = 0
    surest = math.inf
    for score in sorted(items_at, reverse=True):
        items += items_at[score]
        disputes += min(disputed_at[score], wrong_at[score])
        if disputes * 5 <= items:
            surest = score
    candidates = {i: score for i, score in disputed.items() if score >= surest}
    if not candidates:
        return ()
    wrong_at.subtract(Counter(candidates.values()))
    hopeful = choose_threshold(
        [
            *((score, True) for score, right in scored if right),
            *((score, True) for score in candidates.values()),
            *((score, False) for score, n in wrong_at.items() for _ in range(n)),
        ],
        target_accuracy,
        confidence,
    )
    if hopeful is None or (chosen is not None and hopeful.threshold >= chosen.threshold):
        return ()
    return tuple(i for i, score in candidates.items() if score >= hopeful.threshold)


def validation_needed(
    scored: Sequence[tuple[float, bool]],
    chosen: Coverage | None,
    most: int,
    target_accuracy: float = 0.95,
    confidence: float = 0.95,
) -> tuple[int, float] | None:
    """When the bound, not the model, holds the threshold back: how large a validation set
    (at most `most` items) would let a lower threshold qualify if the items added fared as
    those there, and that threshold; None when no lower threshold would, within `most`.

    A validation set too small to bound an error rate it meets (98 % right on 80 items bounds
    it at only 93 %) keeps the machine from labeling what it labels well; a larger one costs
    people's labels that train nothing, so it grows only as far as the bound needs."""
    total = len(scored)
    if total == 0 or most <= total:
        return None
    limit = 1.0 - target_accuracy
    ordered = sorted(scored, key=lambda s: s[0])
    errors_from = [0] * (total + 1)
    for i in range(total - 1, -1, -1):
        errors_from[i] = errors_from[i + 1] + (not ordered[i][1])
    for i, (score, _) in enumerate(ordered):
        if chosen is not None and score >= chosen.threshold:
            return None
        if i and ordered[i - 1][0] == score:
            continue
        n, errors = total - i, errors_from[i]
        if errors / n > limit:
            continue
        size = _smallest_size(n / total, errors / n, total, most, limit, confidence)
        if size is not None:
            return size, score
    return None


def _smallest_size(
    share: float, error_rate: float, now: int, most: int, limit: float, confidence: float
) -> int | None:
    """The least validation size in (now, most] at which `share` of it, wrong at
    `error_rate`, qualifies; qualifying only gets easier as the size grows."""

    def qualifies(size: int) -> bool:
        n = max(1, round(share * size))
        return bound_at_most(round(error_rate * n), n, limit, confidence)

    if not qualifies(most):
        return None
    low, high = now, most  # qualifies(high); `low` is below what qualifies
    while high - low > 1:
        middle = (low + high) // 2
        if qualifies(middle):
            high = middle
        else:
            low = middle
    return high
