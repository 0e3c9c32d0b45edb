"""What the built-in PyTorch models share: the fit procedure, the training loop, artifacts
(save, load, starting from an earlier model) and ONNX export.

`fit` checks everything it can before any work (labels, image count, the `init_from` artifact,
the pretrained backbone file), then decodes the images (skipping those that fail), holds out a
share for calibration when no validation records are given, trains with AdamW on a one-cycle
schedule, calibrates, and — for small datasets — trains again on every image (`REFIT_BELOW`).
Subclasses say how to build the net, batch and score the data, and calibrate it.
"""

from __future__ import annotations

import inspect
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image
from torch import Tensor, nn

from truthloop.core.types import ImageRecord, Value
from truthloop.errors import ModelError, NotFound, TrainingError
from truthloop.ml import onnx as onnx_export
from truthloop.ml.backbones import SCRATCH, default_backbone, installed_weights
from truthloop.ml.backend import (
    PREDICT_BATCH,
    ImageLoader,
    ProgressCallback,
    SkippedImage,
    Task,
    TrainProgress,
    TrainReport,
    check_training_set,
    decode,
    examples,
)
from truthloop.ml.imaging import letterbox_batch
from truthloop.ml.outputs import Decoding
from truthloop.ml.pretrained import check_backbone_weights, read_backbone_weights

Decoded = list[tuple[Image.Image, Value]]

# Below this many images nothing is held out: every image is needed for training, and the
# confidences stay uncalibrated.
MIN_IMAGES_TO_HOLD_OUT = 10
# Below this many images, once calibrated on the held-out share, the model trains again on
# all of them: with few images every one counts. The calibration carries over, as it was
# fitted to a model trained the same way on most of the same images (scikit-learn's
# CalibratedClassifierCV(ensemble=False) refits the same way).
REFIT_BELOW = 60


@dataclass(frozen=True, slots=True)
class Start:
    """Weights to start training from, and the labels their label rows belong to."""

    state: dict[str, Tensor]
    labels: tuple[str, ...]


def pick_device(device: str | None) -> torch.device:
    """`device` as given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TorchModel(ABC):
    """A built-in model. Subclasses declare their hyper-parameters as keywords of `__init__`,
    store them unchanged under the same names, and implement the abstract steps."""

    task: Task
    kind: ClassVar[str]
    # State-dict entries whose first dimension runs over the labels, mapped by label name
    # when training starts from a model with other labels.
    label_rows: ClassVar[tuple[str, ...]]
    # Optimiser steps an automatic number of epochs aims at.
    auto_steps: ClassVar[int] = 400
    # Hyper-parameters added since the first artifacts, with the values that load those as
    # they were saved.
    added_params: ClassVar[dict[str, Any]] = {}

    image_size: int | None
    backbone: str | None
    epochs: int | None
    batch_size: int
    lr: float
    weight_decay: float
    min_images: int
    calibration_share: float
    backbone_weights: str | Path | None
    seed: int
    device: str | None

    # ---- what a subclass provides -------------------------------------------------------

    @abstractmethod
    def _build(self, classes: int) -> nn.Module: ...

    @abstractmethod
    def _training_data(self, decoded: Decoded, labels: Sequence[str]) -> Any:
        """Whatever `_loss` needs, built once from the decoded training images."""

    @abstractmethod
    def _loss(
        self, net: nn.Module, data: Any, indices: Tensor, generator: torch.Generator
    ) -> Tensor:
        """The loss of one augmented batch of the training images at `indices`."""

    @abstractmethod
    def _calibrate(self, decoded: Decoded) -> tuple[Decoding, float, float]:
        """A `Decoding` calibrated on `decoded`, and the ECE there before and after."""

    @abstractmethod
    def _inference_module(self) -> nn.Module:
        """The net as it runs at prediction time, with outputs in `Decoding`'s shape."""

    def _decoding(self) -> Decoding:
        """How outputs become values before calibration."""
        return Decoding(self.task, self.labels_, self.input_size)

    @property
    def input_size(self) -> int:
        """The square side images are letterboxed to (a model whose `image_size` may be None
        says what that means)."""
        if self.image_size is None:
            raise ModelError(f"{type(self).__name__}: no image_size")
        return self.image_size

    @property
    def backbone_name(self) -> str:
        """The backbone this model is built on: as given, else the default (`default_backbone`);
        an artifact records the one it was trained on."""
        return self.backbone or default_backbone()

    @property
    def frozen_backbone(self) -> bool:
        """Whether the backbone is a pretrained one that never trains: an artifact then leaves
        its weights out (they are the installed ImageNet weights) and names them instead."""
        return self.backbone_name != SCRATCH

    # ---- the estimator contract ---------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def fit(
        self,
        records: Sequence[ImageRecord],
        load: ImageLoader,
        *,
        labels: Sequence[str],
        validation: Sequence[ImageRecord] = (),
        init_from: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> Self:
        started = time.perf_counter()
        found = check_training_set(records, self.task, labels, self.min_images)
        held_out = examples(validation, self.task, labels)
        start = self._read_start(init_from)
        train, skipped = decode(found, load, self.min_images)
        calibration, held_skipped = decode(held_out, load)
        skipped += held_skipped
        self.labels_ = tuple(labels)
        self.device_ = pick_device(self.device)
        part, calibration = (train, calibration) if held_out else self._hold_out(train)
        epochs, loss = self._train_from(start, part, tuple(skipped), progress, "train")
        self.decoding_ = self._decoding()
        ece_before = ece_after = None
        refit = not held_out and bool(calibration) and len(train) < REFIT_BELOW
        if calibration:
            if progress:
                progress(TrainProgress("calibrate", epochs, epochs, 0, 0, loss, tuple(skipped)))
            self.decoding_, ece_before, ece_after = self._calibrate(calibration)
        if refit:
            epochs, loss = self._train_from(start, train, tuple(skipped), progress, "refit")
        self.report_ = TrainReport(
            images=len(train if refit else part),
            calibration_images=len(calibration),
            skipped=tuple(skipped),
            epochs=epochs,
            seconds=time.perf_counter() - started,
            final_loss=loss,
            ece_before=ece_before,
            ece_after=ece_after,
        )
        return self

    def predict(self, images: Sequence[Image.Image]) -> list[Value]:
        values: list[Value] = []
        for i in range(0, len(images), PREDICT_BATCH):
            batch, placed = letterbox_batch(images[i : i + PREDICT_BATCH], self.input_size)
            values += self.decoding_.values(self._outputs(batch), placed)
        return values

    def save(self, path: Path) -> None:
        params = {k: str(v) if isinstance(v, Path) else v for k, v in self.get_params().items()}
        params["backbone"] = self.backbone_name
        state = self.net_.state_dict()
        artifact = {
            "format": f"truthloop.{self.kind}",
            "version": 1,
            "params": params,
            "decoding": self.decoding_.to_json(),
            "state": {k: v.cpu() for k, v in state.items() if not self._left_out(k)},
        }
        if self.frozen_backbone:
            artifact["backbone_file"] = installed_weights(params["backbone"]).name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a crash never leaves half an artifact under `path`.
        partial = path.with_name(path.name + ".partial")
        torch.save(artifact, partial)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        artifact = _read_artifact(path, cls.kind)
        model = cls(**{**cls.added_params, **artifact["params"]})
        decoding = Decoding.from_json(artifact["decoding"])
        if model.frozen_backbone:
            _checkinstalled_weights(path, model.backbone_name, artifact)
        net = model._build(len(decoding.labels))
        # A frozen backbone's weights are not in the artifact: they are the installed ones,
        # which _build loaded. Everything else must be there (strict).
        state = artifact["state"]
        own = net.state_dict()
        left_out = {k: v for k, v in own.items() if k not in state and model._left_out(k)}
        net.load_state_dict({**left_out, **state})
        model.labels_ = decoding.labels
        model.decoding_ = decoding
        model.device_ = pick_device(model.device)
        # torch's stubs leave out the memory_format that Module.to takes.
        model.net_ = net.to(  # type: ignore[call-overload]
            model.device_, memory_format=torch.channels_last
        ).eval()
        return model

    def _left_out(self, key: str) -> bool:
        """Whether the state entry `key` is a frozen pretrained weight, not saved."""
        return self.frozen_backbone and key.startswith("backbone.")

    def export_onnx(self, path: Path) -> None:
        module = self._inference_module()
        onnx_export.export_module(module, path, self.decoding_, self.device_)

    # ---- the steps of fit ---------------------------------------------------------------

    def _read_start(self, init_from: Path | None) -> Start | None:
        """The weights training starts from, checked before any work is done."""
        if init_from is not None:
            artifact = _read_artifact(init_from, self.kind)
            mine = self._architecture({**self.get_params(), "backbone": self.backbone_name})
            theirs = self._architecture(artifact["params"])
            if mine != theirs:
                raise TrainingError(
                    f"{init_from}: cannot start from a model of another shape ({theirs});"
                    f" this one is {mine}"
                )
            return Start(artifact["state"], tuple(artifact["decoding"]["labels"]))
        if self.backbone_weights is not None:
            if self.frozen_backbone:
                raise TrainingError(
                    f"backbone weights {self.backbone_weights} are for the scratch backbone;"
                    " this model's is the pretrained one (pass backbone='scratch')"
                )
            weights = read_backbone_weights(self.backbone_weights)
            check_backbone_weights(self._build(1), weights, self.backbone_weights)
            return Start({f"backbone.{k}": v for k, v in weights.items()}, ())
        return None

    def _architecture(self, params: dict[str, Any]) -> dict[str, Any]:
        """The hyper-parameters that decide the shape of the weights."""
        names = ("width", "depth", "neck", "backbone")
        filled = {**self.added_params, **params}
        return {k: filled.get(k) for k in names if k in self.get_params()}

    def _hold_out(self, decoded: Decoded) -> tuple[Decoded, Decoded]:
        """Split off `calibration_share` of the images (at random) for calibration."""
        if len(decoded) < MIN_IMAGES_TO_HOLD_OUT or self.calibration_share <= 0:
            return decoded, []
        order = np.random.default_rng(self.seed).permutation(len(decoded))
        held = max(1, round(len(decoded) * self.calibration_share))
        return [decoded[i] for i in order[held:]], [decoded[i] for i in order[:held]]

    def _train_from(
        self,
        start: Start | None,
        decoded: Decoded,
        skipped: tuple[SkippedImage, ...],
        progress: ProgressCallback | None,
        phase: str,
    ) -> tuple[int, float]:
        """A fresh net (from `start` when given) trained on `decoded`, as `net_`."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = self._build(len(self.labels_))
            if start is not None:
                _load_mapped(net, start, self.labels_, self.label_rows)
            # torch's stubs leave out the memory_format that Module.to takes.
            self.net_ = net.to(  # type: ignore[call-overload]
                self.device_, memory_format=torch.channels_last
            )
            data = self._training_data(decoded, self.labels_)
            epochs, loss = self._train(data, len(decoded), skipped, progress, phase)
        self.net_.eval()
        return epochs, loss

    def _train(
        self,
        data: Any,
        n: int,
        skipped: tuple[SkippedImage, ...],
        progress: ProgressCallback | None,
        phase: str,
    ) -> tuple[int, float]:
        batch = min(self.batch_size, n)
        steps = math.ceil(n / batch)
        epochs = self.epochs or max(10, math.ceil(self.auto_steps / steps))
        optimiser = torch.optim.AdamW(
            self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=self.lr, total_steps=epochs * steps, pct_start=0.15
        )
        generator = torch.Generator().manual_seed(self.seed)
        self.net_.train()
        loss_value = math.nan
        for epoch in range(epochs):
            order = torch.randperm(n, generator=generator)
            for step in range(steps):
                indices = order[step * batch : (step + 1) * batch]
                if len(indices) < batch:  # a full last batch keeps BatchNorm statistics sound
                    indices = torch.cat([indices, order[: batch - len(indices)]])
                loss = self._loss(self.net_, data, indices, generator)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net_.parameters(), 10.0)
                optimiser.step()
                schedule.step()
                loss_value = float(loss.detach())
                if progress:
                    progress(
                        TrainProgress(
                            phase, epoch + 1, epochs, step + 1, steps, loss_value, skipped
                        )
                    )
        return epochs, loss_value

    def _outputs(self, batch: NDArray[np.float32]) -> list[NDArray[Any]]:
        """The inference module's outputs for a letterboxed batch, as numpy arrays."""
        module = self._inference_module()
        pixels = (
            torch.from_numpy(batch).to(self.device_).contiguous(memory_format=torch.channels_last)
        )
        with torch.inference_mode():
            out = module(pixels)
        return as_numpy(out if isinstance(out, tuple) else (out,))


def as_numpy(outputs: Sequence[Tensor]) -> list[NDArray[Any]]:
    """A module's outputs as numpy arrays on the CPU, floating point as float32."""
    return [t.float().cpu().numpy() if t.is_floating_point() else t.cpu().numpy() for t in outputs]


def _read_artifact(path: Path, kind: str) -> dict[str, Any]:
    if not path.is_file():
        raise NotFound(f"{path}: no model artifact there")
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file fails in many ways
        raise ModelError(f"{path}: not a model artifact truthloop can read ({error})") from error
    wanted = f"truthloop.{kind}"
    if not isinstance(artifact, dict) or artifact.get("format") != wanted:
        found = artifact.get("format") if isinstance(artifact, dict) else type(artifact).__name__
        raise ModelError(f"{path}: a {found!r} artifact, not a {wanted!r} one")
    return artifact


def _checkinstalled_weights(path: Path, variant: str, artifact: dict[str, Any]) -> None:
    """An artifact names the pretrained weights it was trained on; others would not fit it."""
    installed = installed_weights(variant).name
    if artifact.get("backbone_file") != installed:
        raise ModelError(
            f"{path}: trained on the {variant} weights {artifact.get('backbone_file')!r}, but"
            f" {installed!r} are installed; install the weights it was trained on"
        )


def _load_mapped(
    net: nn.Module, start: Start, labels: Sequence[str], label_rows: Sequence[str]
) -> None:
    """Load `start` into `net`. Entries with a row per label are matched by label name: a
    label the earlier model did not know keeps its fresh initial weights."""
    own = net.state_dict()
    for name, value in start.state.items():
        if name not in own:
            raise TrainingError(f"the starting weights have {name!r}, which this model lacks")
        if name in label_rows:
            rows = own[name].clone()
            for i, label in enumerate(labels):
                if label in start.labels:
                    rows[i] = value[start.labels.index(label)]
            own[name] = rows
        elif own[name].shape != value.shape:
            raise TrainingError(
                f"the starting weights of {name!r} have shape {tuple(value.shape)},"
                f" this model's {tuple(own[name].shape)}"
            )
        else:
            own[name] = value
    net.load_state_dict(own)
