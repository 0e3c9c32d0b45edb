"""Which items people label next: the ones the model is least sure of, spread out so that a
batch is not twenty copies of one hard case; or, as the control, a random choice.

Uncertainty sampling alone tends to pick near-duplicates (the same confusing pair of classes
over and over); each pick here is penalised by its similarity to the items already in the
batch, a greedy form of diverse mini-batch active learning. Similarity is the cosine of the
items' feature vectors (the caller's choice: the predicted class distribution, cheap image
statistics, or both side by side).
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Candidate(Generic[K]):
    """An unlabeled item: its id, how unsure the model is of it (0-1), and its features."""

    item: K
    uncertainty: float
    features: tuple[float, ...] = ()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector is empty or zero."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm > 0 else 0.0


def uncertainty_batch(
    candidates: Sequence[Candidate[K]], size: int, *, diversity: float = 1.0
) -> list[K]:
    """`size` items, picked one by one by uncertainty minus `diversity` times the largest
    similarity to an item already picked (ties by the candidates' order)."""
    if size < 0:
        raise ValueError(f"batch size must not be negative, not {size}")
    left = list(candidates)
    closest = [0.0] * len(left)
    picked: list[K] = []
    while left and len(picked) < size:
        best = max(
            range(len(left)), key=lambda i: (left[i].uncertainty - diversity * closest[i], -i)
        )
        chosen = left.pop(best)
        closest.pop(best)
        picked.append(chosen.item)
        closest = [
            max(c, cosine(chosen.features, other.features)) if chosen.features else c
            for c, other in zip(closest, left, strict=True)
        ]
    return picked


def random_batch(items: Sequence[K], size: int, *, seed: int = 0) -> list[K]:
    """`size` items drawn at random (all of them when there are fewer)."""
    if size < 0:
        raise ValueError(f"batch size must not be negative, not {size}")
    return random.Random(seed).sample(list(items), min(size, len(items)))
