"""The feature cache: computes only what it lacks, keeps within its bytes, forgets the least
recently used first, and tells images, sizes and backbones apart."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from truthloop.ml.features import FeatureCache

CPU = torch.device("cpu")


def _images(n: int, seed: int) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 4, 4)).astype(np.uint8)


def _compute(calls: list[int]) -> Callable[[Tensor], tuple[Tensor, ...]]:
    def compute(batch: Tensor) -> tuple[Tensor, ...]:
        calls.append(len(batch))
        return batch.mean(dim=(2, 3)), batch.amax(dim=(1, 2, 3))

    return compute


def test_only_what_is_missing_is_computed() -> None:
    cache, calls = FeatureCache(), list[int]()
    images = _images(5, seed=1)
    first = cache.features("net@4/f", images, _compute(calls), CPU)
    assert [t.shape for t in first] == [(5, 3), (5,)] and calls == [5]
    again = cache.features("net@4/f", images[[4, 0]], _compute(calls), CPU)
    assert calls == [5] and cache.computed == 5
    assert torch.equal(again[0], first[0][[4, 0]]) and torch.equal(again[1], first[1][[4, 0]])
    # another computation of the same pixels is another entry
    cache.features("net@8/f", images[:2], _compute(calls), CPU)
    assert calls == [5, 2]
    assert cache.nbytes == 7 * (3 * 4 + 4)  # float32 means and maxima


def test_the_cache_keeps_within_its_bytes_and_forgets_the_least_recent() -> None:
    entry = 3 * 4 + 4
    cache, calls = FeatureCache(max_bytes=3 * entry), list[int]()
    images = _images(4, seed=2)
    cache.features("f", images[:3], _compute(calls), CPU)
    cache.features("f", images[:1], _compute(calls), CPU)  # the first is the most recent now
    cache.features("f", images[3:], _compute(calls), CPU)  # the second goes
    assert cache.nbytes == 3 * entry and calls == [3, 1]
    cache.features("f", images[[0, 2, 3]], _compute(calls), CPU)
    assert calls == [3, 1]
    cache.features("f", images[1:2], _compute(calls), CPU)
    assert calls == [3, 1, 1]


def test_a_batch_larger_than_the_cache_still_gets_every_answer() -> None:
    cache, calls = FeatureCache(max_bytes=1), list[int]()
    images = _images(3, seed=3)
    means, _ = cache.features("f", images, _compute(calls), CPU)
    expected = torch.from_numpy(images).float().mean(dim=(2, 3))
    assert torch.allclose(means, expected) and cache.nbytes == 0


def test_an_entry_evicted_by_its_own_batch_is_computed_again() -> None:
    entry = 3 * 4 + 4
    cache, calls = FeatureCache(max_bytes=entry), list[int]()
    images = _images(2, seed=4)
    cache.features("f", images[:1], _compute(calls), CPU)
    means, _ = cache.features("f", images, _compute(calls), CPU)  # the second evicts the first
    assert calls == [1, 1, 1]
    assert torch.allclose(means, torch.from_numpy(images).float().mean(dim=(2, 3)))
