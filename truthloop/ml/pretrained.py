"""An optional pretrained backbone for the built-in models: a weights file the user points to,
or a file on the Hugging Face Hub that the user names.

A weights file is a `torch.save`d `state_dict()` of `truthloop.ml.nets.Backbone` (at the same
`width` and `depth` as the model), or a saved truthloop classifier or detector, whose backbone
is taken — so a classifier trained on one dataset can start a detector on another.

`hf://OWNER/REPO/PATH/IN/REPO` names a file on the Hub. It is the only thing in truthloop that
goes online, and only when asked for by name; it needs the `huggingface_hub` package, and fails
with a `ConfigError` that says so when the package is missing or the Hub cannot be reached.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from truthloop.errors import ConfigError, ModelError, NotFound, TrainingError

HUB_PREFIX = "hf://"


def read_backbone_weights(source: str | Path) -> dict[str, Tensor]:
    """The backbone state dict that `source` (a path, or an `hf://` name) holds."""
    if isinstance(source, str) and source.startswith(HUB_PREFIX):
        return _read_file(_download(source))
    return _read_file(Path(source))


def check_backbone_weights(net: nn.Module, weights: dict[str, Tensor], source: str | Path) -> None:
    """Raise `TrainingError` unless `weights` fit `net.backbone` exactly."""
    own = net.get_submodule("backbone").state_dict()
    missing = sorted(own.keys() - weights.keys())
    extra = sorted(weights.keys() - own.keys())
    wrong = sorted(k for k in own.keys() & weights.keys() if own[k].shape != weights[k].shape)
    if missing or extra or wrong:
        details = "; ".join(
            f"{what}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for what, names in (("missing", missing), ("unexpected", extra), ("other shape", wrong))
            if names
        )
        raise TrainingError(
            f"{source}: the backbone weights do not fit this model ({details});"
            " were they saved from a backbone of the same width and depth?"
        )


def _read_file(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise NotFound(f"{path}: no backbone weights file there")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file fails in many ways
        raise ModelError(f"{path}: not a weights file PyTorch can read safely ({error})") from error
    if isinstance(loaded, dict) and str(loaded.get("format", "")).startswith("truthloop."):
        state = loaded.get("state", {})
        prefix = "backbone."
        loaded = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not (
        isinstance(loaded, dict)
        and loaded
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in loaded.items())
    ):
        raise ModelError(f"{path}: not a state dict of backbone weights (name -> tensor)")
    return loaded


def _download(name: str) -> Path:
    parts = name[len(HUB_PREFIX) :].split("/")
    if len(parts) < 3 or not all(parts):
        raise ConfigError(f"{name}: a Hub name is hf://OWNER/REPO/FILE")
    try:
        from huggingface_hub import hf_hub_download  # only needed when a Hub name is given
    except ImportError:
        raise ConfigError(
            f"{name}: fetching from the Hugging Face Hub needs the huggingface_hub package"
            " (pip install huggingface_hub); or download the file and give its path"
        ) from None
    try:
        return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:])))
    except Exception as error:  # offline, unknown repo or file, hub errors: all end here
        raise ConfigError(
            f"{name}: could not fetch it from the Hugging Face Hub ({type(error).__name__}:"
            f" {error}); are you online? Or download the file and give its path"
        ) from error
