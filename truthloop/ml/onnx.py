"""ONNX export of the built-in models, and `OnnxModel`, a backend that predicts with ONNX Runtime.

An exported file holds the net with its decoding step (for the detector: heatmap peaks and
their boxes) and, in its metadata under `truthloop`, the JSON of the model's `Decoding`
(labels, input size, calibration). `OnnxModel` letterboxes images and decodes outputs with the
same numpy code as the PyTorch models, so both predict the same within float tolerance.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import onnx
import onnxruntime as ort
import torch
from PIL import Image
from torch import nn

from truthloop.core.types import ImageRecord, Value
from truthloop.errors import ModelError, NotFound
from truthloop.ml.backend import ImageLoader, ProgressCallback, Task
from truthloop.ml.imaging import letterbox_batch
from truthloop.ml.outputs import Decoding

METADATA_KEY = "truthloop"
INPUT_NAME = "pixels"
_OPSET = 17


def export_module(module: nn.Module, path: Path, decoding: Decoding, device: torch.device) -> None:
    """Write `module` (taking a float N x 3 x S x S batch of pixels) to `path` as ONNX, with
    `decoding` in its metadata. The batch dimension stays dynamic."""
    module = module.eval()
    example = torch.full((1, 3, decoding.image_size, decoding.image_size), 114.0, device=device)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter warns that it is deprecated; the newer exporter needs the
        # onnxscript package, which the `ml` extra does not bring.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,  # type: ignore[arg-type]  # the stubs name paths only; a file object works
            dynamo=False,
            input_names=[INPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}},
            opset_version=_OPSET,
        )
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(decoding.to_json())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    onnx.save(model, partial)
    partial.replace(path)


class OnnxModel:
    """Predicts with an exported model through ONNX Runtime; cannot train.

    `threads` caps ONNX Runtime's intra-op threads (0: its own default).
    """

    def __init__(self, path: Path, *, threads: int = 0):
        self.path = path
        self.threads = threads
        self._loaded: tuple[ort.InferenceSession, Decoding] | None = None

    @property
    def task(self) -> Task:
        return self.decoding_.task

    @property
    def decoding_(self) -> Decoding:
        return self._session_and_decoding()[1]

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
        raise ModelError(
            f"{self.path}: an ONNX model only predicts; train the PyTorch model and export it"
        )

    def predict(self, images: Sequence[Image.Image]) -> list[Value]:
        session, decoding = self._session_and_decoding()
        batch, placed = letterbox_batch(images, decoding.image_size)
        if not len(batch):
            return []
        outputs = session.run(None, {INPUT_NAME: batch})
        return decoding.values(outputs, placed)

    def save(self, path: Path) -> None:
        shutil.copyfile(self.path, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        model = cls(path)
        model._session_and_decoding()
        return model

    def export_onnx(self, path: Path) -> None:
        self.save(path)

    def _session_and_decoding(self) -> tuple[ort.InferenceSession, Decoding]:
        if self._loaded is None:
            self._loaded = _open(self.path, self.threads)
        return self._loaded


def _open(path: Path, threads: int) -> tuple[ort.InferenceSession, Decoding]:
    if not path.is_file():
        raise NotFound(f"{path}: no ONNX model there")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Threads that spin while they wait halve the throughput when other work shares the cores
    # (measured on 2 busy cores), and gain next to nothing on idle ones.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=ort.get_available_providers())
    except Exception as error:  # ONNX Runtime raises its own exception types for bad files
        raise ModelError(f"{path}: ONNX Runtime cannot load it ({error})") from error
    meta = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if meta is None:
        raise ModelError(
            f"{path}: an ONNX file without truthloop's metadata; export it with truthloop"
        )
    try:
        return session, Decoding.from_json(json.loads(meta))
    except (ValueError, KeyError, TypeError) as error:
        raise ModelError(f"{path}: its truthloop metadata is unreadable ({error})") from error
