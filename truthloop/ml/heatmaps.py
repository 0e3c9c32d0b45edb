"""Training targets and losses of the detector (after TTFNet, which trains in few epochs).

Each box puts an elliptic Gaussian on its class's heatmap, peaking at 1 in the cell that holds
its centre and shaped like the box. The cells near the centre (a smaller ellipse) all regress
the whole box, weighted by the Gaussian and by the log of the box area, so every box gives
many training samples instead of one. The heatmap is learnt with CenterNet's focal loss, the
boxes with the GIoU loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from truthloop.ml.nets import STRIDE

# Share of the box's half-sides covered by the heatmap Gaussian (alpha) and by the cells that
# regress the box (beta), TTFNet's values.
_ALPHA = 0.54
_BETA = 0.54
_BOX_LOSS_WEIGHT = 5.0


@dataclass(frozen=True, slots=True)
class Targets:
    heatmap: Tensor  # N x classes x H x W, 1 at box centres
    boxes: Tensor  # N x 4 x H x W, left, top, right, bottom in input pixels
    weights: Tensor  # N x H x W, 0 where no box is regressed
    stride: int = STRIDE  # input pixels per cell


def _gaussian(cells: int, centre: float, sigma: float, device: torch.device) -> Tensor:
    position = torch.arange(cells, device=device, dtype=torch.float32)
    return torch.exp(-((position - centre) ** 2) / (2 * sigma**2))


def build_targets(
    boxes: list[Tensor], classes: int, size: int, device: torch.device, stride: int = STRIDE
) -> Targets:
    """Targets for a batch of `size` x `size` images with `boxes[i]` a (k, 5) tensor of left,
    top, right, bottom, class in pixels, on cells of `stride` pixels."""
    cells = size // stride
    n = len(boxes)
    heatmap = torch.zeros(n, classes, cells, cells, device=device)
    target_boxes = torch.zeros(n, 4, cells, cells, device=device)
    weights = torch.zeros(n, cells, cells, device=device)
    for i, image_boxes in enumerate(boxes):
        areas = (image_boxes[:, 2] - image_boxes[:, 0]) * (image_boxes[:, 3] - image_boxes[:, 1])
        # Larger boxes first, so a small box's cells are not overwritten by a large one's.
        for k in torch.argsort(areas, descending=True).tolist():
            x1, y1, x2, y2, c = image_boxes[k].tolist()
            w, h = (x2 - x1) / stride, (y2 - y1) / stride
            cx = min(int((x1 + x2) / 2 / stride), cells - 1)
            cy = min(int((y1 + y2) / 2 / stride), cells - 1)
            gx = _gaussian(cells, cx, max(_ALPHA * w / 6, 0.3), device)
            gy = _gaussian(cells, cy, max(_ALPHA * h / 6, 0.3), device)
            heatmap[i, int(c)] = torch.maximum(heatmap[i, int(c)], gy[:, None] * gx[None, :])
            rx = _gaussian(cells, cx, max(_BETA * w / 6, 0.3), device)
            ry = _gaussian(cells, cy, max(_BETA * h / 6, 0.3), device)
            near = ry[:, None] * rx[None, :]
            inside = near > math.exp(-4.5)  # within three sigmas: the box's core
            inside[cy, cx] = True
            share = torch.where(inside, near, torch.zeros_like(near))
            share = share / share.sum() * math.log(max((x2 - x1) * (y2 - y1), 2.0))
            target_boxes[i][:, inside] = torch.tensor([x1, y1, x2, y2], device=device)[:, None]
            weights[i][inside] = share[inside]
    return Targets(heatmap, target_boxes, weights, stride)


def focal_loss(logits: Tensor, target: Tensor) -> Tensor:
    """CenterNet's penalty-reduced focal loss, per box centre."""
    p = logits.sigmoid()
    centre = target >= 1 - 1e-4
    positive = F.logsigmoid(logits) * (1 - p) ** 2
    negative = F.logsigmoid(-logits) * p**2 * (1 - target) ** 4
    loss = -(torch.where(centre, positive, negative)).sum()
    return loss / centre.sum().clamp(min=1)


def giou_loss(distances: Tensor, targets: Targets) -> Tensor:
    """1 - GIoU between the boxes the cells predict and their targets, weighted per cell."""
    n, _, h, w = distances.shape
    mask = targets.weights > 0
    if not mask.any():
        return distances.sum() * 0.0
    ys, xs = torch.meshgrid(
        torch.arange(h, device=distances.device, dtype=distances.dtype),
        torch.arange(w, device=distances.device, dtype=distances.dtype),
        indexing="ij",
    )
    stride = targets.stride
    cx = (xs * stride + stride / 2).expand(n, h, w)[mask]
    cy = (ys * stride + stride / 2).expand(n, h, w)[mask]
    d = distances.permute(0, 2, 3, 1)[mask]
    t = targets.boxes.permute(0, 2, 3, 1)[mask]
    p = torch.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], dim=1)
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_t = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    lt = torch.maximum(p[:, :2], t[:, :2])
    rb = torch.minimum(p[:, 2:], t[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    union = area_p + area_t - inter
    hull = (torch.maximum(p[:, 2:], t[:, 2:]) - torch.minimum(p[:, :2], t[:, :2])).prod(dim=1)
    giou = inter / union - (hull - union) / hull
    weight = targets.weights[mask]
    return ((1 - giou) * weight).sum() / weight.sum().clamp(min=1e-6)


def detection_loss(heat_logits: Tensor, distances: Tensor, targets: Targets) -> Tensor:
    return focal_loss(heat_logits, targets.heatmap) + _BOX_LOSS_WEIGHT * giou_loss(
        distances, targets
    )
