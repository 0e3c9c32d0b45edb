"""What a frozen pretrained backbone computed, kept per image for as long as the process runs.

A frozen backbone gives the same features for the same pixels, so an image is pushed through it
once: automated labeling trains a new head and predicts the whole unlabeled pool every round,
and feedback, evaluation and detection ask again about the same images. The key is a digest of
the pixels the backbone sees (after letterboxing) and the backbone's name, so a changed image,
another input size or another backbone is computed afresh. Bounded by entries; the least
recently used go first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

# 1280 floats an entry: 100,000 images hold about 0.5 GB.
MAX_ENTRIES = 100_000

Compute = Callable[[Tensor], Tensor]


class FeatureCache:
    """Pooled features per (backbone, pixels); `features` computes only what it lacks."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, bytes], Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # images pushed through a backbone, for tests and benchmarks

    def features(
        self, backbone: str, pixels: NDArray[np.float32], compute: Compute, device: torch.device
    ) -> Tensor:
        """Features of each image of `pixels` (N x 3 x S x S, in [0, 255]); `compute` maps a
        batch of pixels on `device` to a batch of feature vectors."""
        keys = [(backbone, _digest(image)) for image in pixels]
        with self._lock:
            missing = [i for i, key in enumerate(keys) if key not in self._entries]
        if missing:
            batch = torch.from_numpy(np.ascontiguousarray(pixels[missing])).to(device)
            with torch.inference_mode():
                found = compute(batch).float().cpu()
            with self._lock:
                self.computed += len(missing)
                for i, row in zip(missing, found, strict=True):
                    self._entries[keys[i]] = row.clone()
                    self._entries.move_to_end(keys[i])
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
            rows = [self._entries.get(key) for key in keys]
        if any(row is None for row in rows):  # evicted by a batch larger than the bound
            return compute(torch.from_numpy(np.ascontiguousarray(pixels)).to(device)).float().cpu()
        return torch.stack([row for row in rows if row is not None])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _digest(image: NDArray[np.float32]) -> bytes:
    # Pixels are whole numbers in [0, 255]: as bytes they are a fourth of the floats to hash.
    return hashlib.blake2b(image.astype(np.uint8).tobytes(), digest_size=16).digest()


SHARED = FeatureCache()
"""The process's cache, used by every built-in model with a frozen pretrained backbone."""
