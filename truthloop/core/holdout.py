"""Which items a test set holds out: about a share of each label's items, chosen by a hash of
each item's file name, so the same items are chosen again whenever the choice is made (a model
version evaluated later finds its test images; a split set from the portal is reproducible).

Training sets (ml/training_sets.py) and the dataset page's split editor both choose here.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

HOLD_OUT_SHARE = 0.2
"""The share of a dataset held out for testing when nothing else says (as Rekognition does)."""


def digest(uri: str, seed: int | None = None) -> str:
    """Where an image falls in the hold-out order: a hash of its file name, not of the folder
    or bucket around it, so a dataset moved, exported or copied into the blob store (where a
    file is named by its content) keeps its split. A seed gives another order."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return hashlib.sha256((name if seed is None else f"{seed}:{name}").encode()).hexdigest()


def stratified_hold_out(
    items: Sequence[T],
    *,
    uri: Callable[[T], str],
    labels: Callable[[T], Sequence[str]],
    share: float = HOLD_OUT_SHARE,
    seed: int | None = None,
    at_least_one: bool = True,
) -> list[T]:
    """The held-out items: about `share` of each stratum (an item's first label by name, ""
    for an unlabeled one), chosen in `digest` order; with `at_least_one`, one item in all when
    the strata's shares round to none and there are two or more items."""
    strata: dict[str, list[T]] = defaultdict(list)
    for item in items:
        strata[min(labels(item), default="")].append(item)
    chosen: list[T] = []
    for key in sorted(strata):
        members = sorted(strata[key], key=lambda i: digest(uri(i), seed))
        chosen += members[: round(len(members) * share)]
    if at_least_one and not chosen and len(items) > 1:
        chosen = [min(items, key=lambda i: digest(uri(i), seed))]
    return chosen
