"""Output shapes of the nets, and the peak decoder on a heatmap with known peaks."""

from __future__ import annotations

import torch

from truthloop.ml.nets import STRIDE, ClassifierNet, DetectorNet, PeakDecoder


def test_shapes() -> None:
    pixels = torch.full((2, 3, 64, 64), 114.0)
    assert ClassifierNet(5, width=0.5).eval()(pixels).shape == (2, 5)
    heat, distances = DetectorNet(3, width=0.5).eval()(pixels)
    assert heat.shape == (2, 3, 64 // STRIDE, 64 // STRIDE)
    assert distances.shape == (2, 4, 64 // STRIDE, 64 // STRIDE)
    assert (distances > 0).all()


class _Known(DetectorNet):
    """A detector whose outputs are fixed: two peaks, and every box side 6 px from its cell."""

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat = torch.full((1, 2, 8, 8), -5.0)
        heat[0, 1, 2, 3] = 4.0  # label 1 at row 2, column 3
        heat[0, 0, 6, 1] = 2.0
        heat[0, 0, 6, 2] = 1.0  # beside a stronger neighbour: not a peak
        return heat, torch.full((1, 4, 8, 8), 6.0)


def test_the_decoder_returns_peaks_best_first_with_their_boxes() -> None:
    logits, classes, boxes = PeakDecoder(_Known(2, width=0.5), top_k=3)(torch.zeros(1, 3, 32, 32))
    assert logits[0, :2].tolist() == [4.0, 2.0]
    assert classes[0, :2].tolist() == [1, 0]
    centre = (3 * STRIDE + STRIDE / 2, 2 * STRIDE + STRIDE / 2)
    assert boxes[0, 0].tolist() == [centre[0] - 6, centre[1] - 6, centre[0] + 6, centre[1] + 6]
    assert logits[0, 2] == -5.0  # then the flat background, far below any threshold


def test_top_k_is_capped_by_the_number_of_cells() -> None:
    logits, _, boxes = PeakDecoder(DetectorNet(1, width=0.5).eval(), top_k=100)(
        torch.zeros(1, 3, 16, 16)
    )
    assert logits.shape == (1, 16) and boxes.shape == (1, 16, 4)
