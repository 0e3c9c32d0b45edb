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


def test_flip_averaging_answers_a_mirrored_image_with_mirrored_boxes() -> None:
    """Averaged with its mirror view, the decoder no longer depends on which way an image
    faces: the same peaks, their boxes mirrored."""
    torch.manual_seed(0)
    decoder = PeakDecoder(DetectorNet(2, width=0.5).eval(), top_k=5, flip_average=True)
    pixels = torch.rand(1, 3, 32, 32) * 255
    with torch.inference_mode():
        logits, classes, boxes = decoder(pixels)
        m_logits, m_classes, m_boxes = decoder(pixels.flip(3))
    assert torch.allclose(logits, m_logits, atol=1e-4) and torch.equal(classes, m_classes)
    left, top, right, bottom = boxes.unbind(2)
    mirrored = torch.stack([32 - right, top, 32 - left, bottom], 2)
    assert torch.allclose(m_boxes, mirrored, atol=1e-3)
    plain = PeakDecoder(decoder.net, top_k=5)
    with torch.inference_mode():
        assert not torch.allclose(plain(pixels)[0], plain(pixels.flip(3))[0], atol=1e-4)
