"""The networks of the built-in models, sized for training and inference on a few CPU cores.

Two backbones serve both. `Pretrained` is EfficientNet-Lite with its ImageNet weights
(`truthloop.ml.efficientnet`), frozen: what it learned from a million photos is what makes a
model worth having from a few hundred of a user's own; `Backbone` ("scratch") is small and
trained from nothing: four stages at strides 2, 4, 8 and 16 (channels 16 to 96 at the default
width), 3x3 convolutions with BatchNorm and ReLU, residual blocks in each stage. The classifier
pools the last stage (the pretrained one through its 1280-channel head); the detector merges
the last stages back up to stride 4 and predicts, per class, a centre heatmap and, per cell,
the distances from the cell centre to the four sides of the box (TTFNet-style, which trains
fast with few images).

Inputs are float images in [0, 255], NCHW; the nets normalise them, so an exported ONNX graph
takes pixels as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from truthloop.ml.backbones import SCRATCH, check_backbone
from truthloop.ml.efficientnet import HEAD_CHANNELS, pretrained

# Stride of the detector's output cells, in input pixels: 4 on the scratch backbone; 8 on a
# pretrained one, whose feature pyramid stops at its stride-8 maps (the heads at stride 4 would
# cost four times as much, for objects smaller than a few-hundred-image job usually holds).
STRIDE = 4
PRETRAINED_STRIDE = 8
# Box side distances are predicted as BOX_UNIT * exp(x): x = 0 means a 2 * BOX_UNIT px box.
BOX_UNIT = 16.0
# Heatmap logits start at the log-odds of 1 %, so early training is not swamped by background.
_HEATMAP_PRIOR = -math.log((1 - 0.01) / 0.01)


def _conv(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    """Two 3x3 convolutions and a shortcut."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class Backbone(nn.Module):
    """Features at strides 4, 8 and 16. `width` scales every stage's channels."""

    def __init__(self, width: float = 1.0, depth: int = 1):
        super().__init__()
        c = [max(8, round(n * width / 8) * 8) for n in (16, 32, 64, 96)]
        self.channels: tuple[int, ...] = tuple(c[1:])
        self.stem = _conv(3, c[0], stride=2)
        self.stage4 = nn.Sequential(
            _conv(c[0], c[1], stride=2), *(Residual(c[1]) for _ in range(depth))
        )
        self.stage8 = nn.Sequential(
            _conv(c[1], c[2], stride=2), *(Residual(c[2]) for _ in range(depth))
        )
        self.stage16 = nn.Sequential(
            _conv(c[2], c[3], stride=2), *(Residual(c[3]) for _ in range(depth))
        )

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = (pixels - 127.5) / 64.0
        c4 = self.stage4(self.stem(x))
        c8 = self.stage8(c4)
        c16 = self.stage16(c8)
        return c4, c8, c16


class Pretrained(nn.Module):
    """EfficientNet-Lite with its ImageNet weights, frozen: its parameters take no gradient and
    its BatchNorm keeps ImageNet's statistics even while the model around it trains. Features
    at strides 4, 8, 16 and 32, and `pooled`, the 1280 averaged features of its own head."""

    def __init__(self, variant: str):
        super().__init__()
        self.net = pretrained(variant, imagenet_head=False)
        self.net.requires_grad_(False)
        self.channels: tuple[int, ...] = self.net.channels

    def train(self, mode: bool = True) -> Pretrained:
        super().train(False)  # frozen statistics, whatever the model around it does
        return self

    def forward(self, pixels: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.net.features(pixels))

    def pooled(self, pixels: Tensor) -> Tensor:
        return self.net.pooled(pixels)


def make_backbone(name: str, width: float = 1.0, depth: int = 1) -> Backbone | Pretrained:
    """The backbone `name` names: "scratch" (sized by `width`, `depth`) or a pretrained one."""
    if name == SCRATCH:
        return Backbone(width, depth)
    return Pretrained(check_backbone(name))


class ClassifierNet(nn.Module):
    """Backbone, global pooling and one linear layer: logits per label."""

    def __init__(
        self,
        classes: int,
        width: float = 1.0,
        depth: int = 1,
        dropout: float = 0.2,
        backbone: str = SCRATCH,
    ):
        super().__init__()
        self.backbone = make_backbone(backbone, width, depth)
        self.dropout = nn.Dropout(dropout)
        pretrained = isinstance(self.backbone, Pretrained)
        pooled = HEAD_CHANNELS if pretrained else 2 * self.backbone.channels[-1]
        self.head = nn.Linear(pooled, classes)

    def features(self, pixels: Tensor) -> Tensor:
        """What the head sees: one vector per image."""
        if isinstance(self.backbone, Pretrained):
            return self.backbone.pooled(pixels)
        last = self.backbone(pixels)[-1]
        return torch.cat([last.mean(dim=(2, 3)), last.amax(dim=(2, 3))], dim=1)

    def forward(self, pixels: Tensor) -> Tensor:
        return self.head(self.dropout(self.features(pixels)))


class DetectorNet(nn.Module):
    """Backbone, a top-down merge to `stride` (4 on scratch, 8 on a pretrained backbone), and
    two heads.

    Returns (heatmap logits N x classes x H/s x W/s, box side distances N x 4 x H/s x W/s in
    input pixels: left, top, right, bottom from each cell's centre).
    """

    def __init__(
        self,
        classes: int,
        width: float = 1.0,
        depth: int = 1,
        neck: int = 48,
        backbone: str = SCRATCH,
    ):
        super().__init__()
        self.backbone = make_backbone(backbone, width, depth)
        c4, c8, c16 = self.backbone.channels[:3]
        self.stride = STRIDE
        if isinstance(self.backbone, Pretrained):  # a fourth level, at stride 32
            self.stride = PRETRAINED_STRIDE
            self.lateral32 = _conv(self.backbone.channels[3], neck, kernel=1)
            self.merge16 = _conv(neck, neck)
        # In this order: a scratch net's initial weights are those it always had, seed for seed.
        self.lateral16 = _conv(c16, neck, kernel=1)
        self.lateral8 = _conv(c8, neck, kernel=1)
        if self.stride == STRIDE:
            self.lateral4 = _conv(c4, neck, kernel=1)
        self.merge8 = _conv(neck, neck)
        if self.stride == STRIDE:
            self.merge4 = _conv(neck, neck)
        self.heatmap = nn.Sequential(_conv(neck, neck), nn.Conv2d(neck, classes, 1))
        self.box = nn.Sequential(_conv(neck, neck), nn.Conv2d(neck, 4, 1))
        last = self.heatmap[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.constant_(last.bias, _HEATMAP_PRIOR)

    def levels(self, pixels: Tensor) -> tuple[Tensor, ...]:
        """The backbone's maps the pyramid is built from, finest first: strides 4, 8 and 16 on
        scratch; 8, 16 and 32 on a pretrained backbone (a frozen one's can be kept, see
        `truthloop.ml.features`)."""
        maps = self.backbone(pixels)
        return tuple(maps[:3]) if self.stride == STRIDE else tuple(maps[1:4])

    def heads(self, levels: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """Heatmap logits and box side distances from the `levels` maps."""
        if self.stride == STRIDE:
            c4, c8, c16 = levels
            p = self.lateral16(c16)
        else:
            c8, c16, c32 = levels
            up = F.interpolate(self.lateral32(c32), size=c16.shape[-2:], mode="nearest")
            p = self.merge16(self.lateral16(c16) + up)
        p = self.merge8(self.lateral8(c8) + F.interpolate(p, scale_factor=2.0, mode="nearest"))
        if self.stride == STRIDE:
            p = self.merge4(self.lateral4(c4) + F.interpolate(p, scale_factor=2.0, mode="nearest"))
        distances = BOX_UNIT * torch.exp(self.box(p).clamp(-6.0, 6.0))
        return self.heatmap(p), distances

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        return self.heads(self.levels(pixels))


class PeakDecoder(nn.Module):
    """A detector net plus the decoding that exports well to ONNX: the `top_k` local maxima of
    the heatmaps (a 3x3 max-pool does the suppression) and their boxes.

    With `flip_average`, the net also sees each image mirrored left to right, and the two
    views' heatmaps and box sides are averaged, mirrored back (test-time augmentation): an
    object one view barely sees, or a shape one view takes for a logo, lands between the two,
    so the confidences order images by how right they are better than either view does.

    Returns (heatmap logits N x k, class indices N x k, boxes N x k x 4 as left, top, right,
    bottom in input pixels).
    """

    def __init__(self, net: DetectorNet, top_k: int = 100, flip_average: bool = False):
        super().__init__()
        self.net = net
        self.top_k = top_k
        self.flip_average = flip_average

    def _look(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        if not self.flip_average:
            return self.net(pixels)
        n = pixels.shape[0]
        heat, distances = self.net(torch.cat([pixels, pixels.flip(3)]))
        return average_views((heat[:n], distances[:n]), (heat[n:], distances[n:]))

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.peaks(*self._look(pixels))

    def peaks(self, heat: Tensor, distances: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The `top_k` local maxima of the heatmaps and their boxes (see the class)."""
        n, _, h, w = heat.shape
        is_peak = F.max_pool2d(heat, 3, 1, 1) == heat
        k = min(self.top_k, heat.shape[1] * h * w)  # a plain int: the export fixes it
        logits, index = torch.where(is_peak, heat, torch.full_like(heat, -1e4)).flatten(1).topk(k)
        cell = index % (h * w)
        stride = self.net.stride
        x = (cell % w).to(heat.dtype) * stride + stride / 2
        y = torch.div(cell, w, rounding_mode="floor").to(heat.dtype) * stride + stride / 2
        d = distances.flatten(2).gather(2, cell.unsqueeze(1).expand(n, 4, k))
        boxes = torch.stack([x - d[:, 0], y - d[:, 1], x + d[:, 2], y + d[:, 3]], dim=2)
        return logits, torch.div(index, h * w, rounding_mode="floor"), boxes


def average_views(
    plain: tuple[Tensor, Tensor], mirrored: tuple[Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    """A detector's (heatmaps, box sides) of images and of their mirror images, averaged in
    the images' own orientation."""
    heat, distances = plain
    # Mirrored, a cell's left side is the other view's right side.
    back = mirrored[1].flip(3)[:, [2, 1, 0, 3]]
    return (heat + mirrored[0].flip(3)) / 2, (distances + back) / 2
