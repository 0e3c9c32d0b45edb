"""What a frozen pretrained backbone computed, kept per image for as long as the process runs.

A frozen backbone gives the same features for the same pixels, so an image is pushed through it
once: automated labeling trains a new head and predicts the whole unlabeled pool every round,
and feedback, evaluation and detection ask again about the same images. The key is a digest of
the pixels the backbone sees (after letterboxing) and what is computed from them (the backbone,
the input size, which features), so a changed image, another input size or another backbone is
computed afresh. An entry is one image's tensors (the classifier's pooled vector, 5 kB; the
detector's three feature maps, about 280 kB at 320 pixels in half precision). Bounded in bytes;
the least recently used go first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

# About 7,000 images' detector maps, or 400,000 images' pooled vectors.
MAX_BYTES = 2 << 30

Compute = Callable[[Tensor], tuple[Tensor, ...]]
Entry = tuple[Tensor, ...]


class FeatureCache:
    """Tensors per (what, pixels); `features` computes only what it lacks."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.computed = 0  # images pushed through a backbone, for tests and benchmarks

    def features(
        self, what: str, pixels: NDArray[Any], compute: Compute, device: torch.device
    ) -> tuple[Tensor, ...]:
        """The tensors `compute` gives for each image of `pixels` (N x 3 x S x S, whole numbers
        in [0, 255]), batched: `compute` maps a float batch of pixels on `device` to a tuple of
        batched tensors. `what` names the computation (backbone, input size, outputs)."""
        keys = [(what, _digest(image)) for image in pixels]
        with self._lock:
            missing = [i for i, key in enumerate(keys) if key not in self._entries]
        fresh: dict[int, Entry] = {}
        if missing:
            batch = _tensor(pixels[missing], device)
            with torch.inference_mode():
                found = [t.cpu() for t in compute(batch)]
            fresh = {i: tuple(t[k].clone() for t in found) for k, i in enumerate(missing)}
            self._keep({keys[i]: entry for i, entry in fresh.items()})
        with self._lock:
            kept = [fresh.get(i) or self._touch(key) for i, key in enumerate(keys)]
        # An entry evicted since (a batch larger than the bound) is computed again, not kept.
        rows = [
            entry if entry is not None else self._compute_one(pixels[i], compute, device)
            for i, entry in enumerate(kept)
        ]
        return tuple(torch.stack(parts) for parts in zip(*rows, strict=True))

    def _touch(self, key: tuple[str, bytes]) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def _keep(self, entries: dict[tuple[str, bytes], Entry]) -> None:
        with self._lock:
            self.computed += len(entries)
            for key, entry in entries.items():
                if key not in self._entries:
                    self._entries[key] = entry
                    self._bytes += _size(entry)
                self._entries.move_to_end(key)
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= _size(dropped)

    def _compute_one(self, image: NDArray[Any], compute: Compute, device: torch.device) -> Entry:
        with torch.inference_mode():
            return tuple(t[0].cpu() for t in compute(_tensor(image[None], device)))

    @property
    def nbytes(self) -> int:
        """The bytes the kept tensors take."""
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def _size(entry: Entry) -> int:
    return sum(t.numel() * t.element_size() for t in entry)


def _tensor(pixels: NDArray[Any], device: torch.device) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).to(device).float()


def _digest(image: NDArray[Any]) -> bytes:
    # Pixels are whole numbers in [0, 255]: as bytes they are a fourth of the floats to hash.
    return hashlib.blake2b(image.astype(np.uint8).tobytes(), digest_size=16).digest()


SHARED = FeatureCache()
"""The process's cache, used by every built-in model with a frozen pretrained backbone."""
