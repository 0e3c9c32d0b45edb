"""The built-in image classifier, single-label (softmax) or multi-label (one sigmoid per label).

    model = Classifier(epochs=30).fit(records, load, labels=["acme", "globex", "initech"])
    model.predict([image])  # [Classification("globex", 0.97)]

Images are letterboxed to `image_size` pixels; training jitters scale, position, flips and
colour. A single-label model's confidences are calibrated by temperature scaling, a multi-label
model's by Platt scaling, on the held-out images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from truthloop.core.metrics import expected_calibration_error
from truthloop.core.types import Classification, MultiLabel
from truthloop.ml.augment import Augmentation, augment_batch
from truthloop.ml.backend import Task
from truthloop.ml.calibration import fit_platt, fit_temperature, sigmoid, softmax
from truthloop.ml.imaging import letterbox_batch
from truthloop.ml.nets import ClassifierNet
from truthloop.ml.outputs import Decoding
from truthloop.ml.training import Decoded, TorchModel

_AUGMENTATION = Augmentation(scale=(0.75, 1.3), rotate=15.0)


@dataclass(frozen=True, slots=True)
class _Data:
    images: Tensor  # uint8 N x 3 x S x S
    targets: Tensor  # class indices (N), or N x labels of 0/1 for multi-label
    no_boxes: list[Tensor]


def _target_rows(decoded: Decoded, labels: Sequence[str], multilabel: bool) -> Tensor:
    index = {name: i for i, name in enumerate(labels)}
    if not multilabel:
        return torch.tensor([index[_single(v)] for _, v in decoded])
    rows = torch.zeros(len(decoded), len(labels))
    for i, (_, value) in enumerate(decoded):
        assert isinstance(value, MultiLabel)
        rows[i, [index[name] for name in value.labels]] = 1.0
    return rows


def _single(value: object) -> str:
    assert isinstance(value, Classification)
    return value.label


class Classifier(TorchModel):
    """Hyper-parameters: `multilabel` picks the task; `image_size` the square side the images
    are scaled to; `epochs` None trains for about `auto_steps` optimiser steps (at least 10
    epochs); `width`/`depth` size the backbone; `backbone_weights` is a pretrained backbone
    (see `truthloop.ml.pretrained`); `calibration_share` of the images is held out for
    calibration when `fit` gets no validation records; `min_images` is the fewest labeled
    images `fit` accepts."""

    kind = "classifier"
    label_rows = ("head.weight", "head.bias")

    def __init__(
        self,
        *,
        multilabel: bool = False,
        image_size: int = 128,
        epochs: int | None = None,
        batch_size: int = 32,
        lr: float = 4e-3,
        weight_decay: float = 0.05,
        width: float = 1.0,
        depth: int = 1,
        dropout: float = 0.2,
        min_images: int = 5,
        calibration_share: float = 0.2,
        backbone_weights: str | Path | None = None,
        seed: int = 0,
        device: str | None = None,
    ):
        self.multilabel = multilabel
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.width = width
        self.depth = depth
        self.dropout = dropout
        self.min_images = min_images
        self.calibration_share = calibration_share
        self.backbone_weights = backbone_weights
        self.seed = seed
        self.device = device

    @property
    def task(self) -> Task:  # type: ignore[override]
        return Task.MULTILABEL if self.multilabel else Task.CLASSIFICATION

    def _build(self, classes: int) -> nn.Module:
        return ClassifierNet(classes, self.width, self.depth, self.dropout)

    def _training_data(self, decoded: Decoded, labels: Sequence[str]) -> _Data:
        pixels, _ = letterbox_batch([image for image, _ in decoded], self.image_size)
        images = torch.from_numpy(pixels).to(torch.uint8).to(self.device_)
        targets = _target_rows(decoded, labels, self.multilabel).to(self.device_)
        return _Data(images, targets, [torch.zeros(0, 5)] * len(decoded))

    def _loss(
        self, net: nn.Module, data: _Data, indices: Tensor, generator: torch.Generator
    ) -> Tensor:
        batch, _ = augment_batch(
            data.images, data.no_boxes, indices, self.image_size, _AUGMENTATION, generator
        )
        logits = net(batch.contiguous(memory_format=torch.channels_last))
        targets = data.targets[indices.to(data.targets.device)]
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, targets)
        return F.cross_entropy(logits, targets, label_smoothing=0.05)

    def _calibrate(self, decoded: Decoded) -> tuple[Decoding, float, float]:
        batch, _ = letterbox_batch([image for image, _ in decoded], self.image_size)
        logits = self._outputs(batch)[0]
        targets = _target_rows(decoded, self.labels_, self.multilabel).numpy()
        if self.multilabel:
            present = targets.astype(bool).ravel()
            platt = fit_platt(logits, present)
            before = expected_calibration_error(sigmoid(logits).ravel().tolist(), present.tolist())
            after = expected_calibration_error(platt(logits).ravel().tolist(), present.tolist())
            return replace(self.decoding_, platt=platt), before, after
        temperature = fit_temperature(logits, targets)
        right = (logits.argmax(axis=1) == targets).tolist()
        before = expected_calibration_error(softmax(logits).max(axis=1).tolist(), right)
        after = expected_calibration_error(softmax(logits, temperature).max(axis=1).tolist(), right)
        return replace(self.decoding_, temperature=temperature), before, after

    def _inference_module(self) -> nn.Module:
        return self.net_.eval()
