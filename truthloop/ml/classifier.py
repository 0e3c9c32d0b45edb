"""The built-in image classifier, single-label (softmax) or multi-label (one sigmoid per label).

    model = Classifier(epochs=30).fit(records, load, labels=["acme", "globex", "initech"])
    model.predict([image])  # [Classification("globex", 0.97)]

Images are letterboxed to `image_size` pixels. On the pretrained backbone (the default where
its weights are installed) the backbone is frozen and only the last layer trains, on features
computed once per image and its mirror image and kept (`truthloop.ml.features`): from 8 real
photos it already tells classes apart that a net trained from nothing needs hundreds for, and a
training costs seconds. On the scratch backbone the whole net trains, on images jittered in
scale, position, flips and colour. A single-label model's confidences are calibrated by
temperature scaling, a multi-label model's by Platt scaling, on the held-out images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from truthloop.core.metrics import expected_calibration_error
from truthloop.core.types import Classification, MultiLabel
from truthloop.ml.augment import Augmentation, augment_batch
from truthloop.ml.backbones import SCRATCH, VARIANTS
from truthloop.ml.backend import Task
from truthloop.ml.calibration import fit_platt, fit_temperature, sigmoid, softmax
from truthloop.ml.features import SHARED
from truthloop.ml.imaging import letterbox_batch
from truthloop.ml.nets import ClassifierNet
from truthloop.ml.outputs import Decoding
from truthloop.ml.training import Decoded, TorchModel

_AUGMENTATION = Augmentation(scale=(0.75, 1.3), rotate=15.0)
# The scratch net's input side; a pretrained backbone takes the side it was trained at.
SCRATCH_SIZE = 128


@dataclass(frozen=True, slots=True)
class _Data:
    images: Tensor  # uint8 N x 3 x S x S
    targets: Tensor  # class indices (N), or N x labels of 0/1 for multi-label
    no_boxes: list[Tensor]


@dataclass(frozen=True, slots=True)
class _Features:
    features: Tensor  # N x 2 x F: each image's features and its mirror image's
    targets: Tensor


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
    """Hyper-parameters: `multilabel` picks the task; `backbone` is "scratch" or a pretrained
    EfficientNet-Lite (`truthloop.ml.backbones`); `image_size` the square side the
    images are scaled to (None: the backbone's own, 128 for scratch); `epochs` None trains for
    about `auto_steps` optimiser steps (at least 10 epochs); `width`/`depth` size the scratch
    backbone; `backbone_weights` starts it from saved weights (see `truthloop.ml.pretrained`);
    `calibration_share` of the images is held out for calibration when `fit` gets no
    validation records; `min_images` is the fewest labeled images `fit` accepts."""

    kind = "classifier"
    label_rows = ("head.weight", "head.bias")
    # Artifacts saved before the pretrained backbone existed were trained from scratch.
    added_params: ClassVar[dict[str, Any]] = {"backbone": SCRATCH}

    def __init__(
        self,
        *,
        multilabel: bool = False,
        backbone: str | None = None,
        image_size: int | None = None,
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
        self.backbone = backbone
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

    @property
    def input_size(self) -> int:
        if self.image_size is not None:
            return self.image_size
        name = self.backbone_name
        return SCRATCH_SIZE if name == SCRATCH else VARIANTS[name].image_size

    def _build(self, classes: int) -> nn.Module:
        return ClassifierNet(classes, self.width, self.depth, self.dropout, self.backbone_name)

    def _training_data(self, decoded: Decoded, labels: Sequence[str]) -> _Data | _Features:
        pixels, _ = letterbox_batch([image for image, _ in decoded], self.input_size)
        targets = _target_rows(decoded, labels, self.multilabel).to(self.device_)
        if self.frozen_backbone:
            views = [self._features(pixels), self._features(pixels[:, :, :, ::-1])]
            return _Features(torch.stack(views, dim=1).to(self.device_), targets)
        images = torch.from_numpy(pixels).to(torch.uint8).to(self.device_)
        return _Data(images, targets, [torch.zeros(0, 5)] * len(decoded))

    def _features(self, pixels: NDArray[np.float32]) -> Tensor:
        net = self.net_
        assert isinstance(net, ClassifierNet)
        key = f"{self.backbone_name}@{self.input_size}"
        return SHARED.features(f"{key}/pooled", pixels, lambda x: (net.features(x),), self.device_)[
            0
        ]

    def _loss(
        self, net: nn.Module, data: _Data | _Features, indices: Tensor, generator: torch.Generator
    ) -> Tensor:
        targets = data.targets[indices.to(data.targets.device)]
        if isinstance(data, _Features):  # the head alone, on a random view of each image
            assert isinstance(net, ClassifierNet)
            view = torch.randint(0, 2, (len(indices),), generator=generator)
            device = data.features.device
            features = data.features[indices.to(device), view.to(device)]
            logits = net.head(net.dropout(features))
        else:
            batch, _ = augment_batch(
                data.images, data.no_boxes, indices, self.input_size, _AUGMENTATION, generator
            )
            logits = net(batch.contiguous(memory_format=torch.channels_last))
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, targets)
        return F.cross_entropy(logits, targets, label_smoothing=0.05)

    def _calibrate(self, decoded: Decoded) -> tuple[Decoding, float, float]:
        batch, _ = letterbox_batch([image for image, _ in decoded], self.input_size)
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

    def _outputs(self, batch: NDArray[np.float32]) -> list[NDArray[Any]]:
        if not self.frozen_backbone:
            return super()._outputs(batch)
        net = self.net_.eval()
        assert isinstance(net, ClassifierNet)
        features = self._features(batch).to(self.device_)
        with torch.inference_mode():
            return [net.head(features).float().cpu().numpy()]
