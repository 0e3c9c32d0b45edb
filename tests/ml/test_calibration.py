"""Temperature and Platt scaling recover the miscalibration they are fitted on."""

from __future__ import annotations

import numpy as np
import pytest

from truthloop.core.metrics import expected_calibration_error
from truthloop.ml.calibration import Platt, fit_platt, fit_temperature, sigmoid, softmax


def test_temperature_undoes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 4))
    targets = np.array([rng.choice(4, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 3.0  # what a net trained too long looks like
    temperature = fit_temperature(overconfident, targets)
    assert temperature == pytest.approx(3.0, rel=0.1)
    right = (overconfident.argmax(axis=1) == targets).tolist()
    before = expected_calibration_error(softmax(overconfident).max(axis=1).tolist(), right)
    after = expected_calibration_error(
        softmax(overconfident, temperature).max(axis=1).tolist(), right
    )
    assert before > 0.1
    assert after < 0.03


def test_platt_recovers_slope_and_offset() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, 20000)
    outcomes = rng.random(20000) < sigmoid(0.5 * logits - 1.0)
    platt = fit_platt(logits, outcomes)
    assert platt.a == pytest.approx(0.5, abs=0.05)
    assert platt.b == pytest.approx(-1.0, abs=0.1)


def test_platt_keeps_the_ranking_and_stays_near_identity_on_little_data() -> None:
    # Higher scores are wrong here: the fitted slope would be negative, and is held above 0.
    platt = fit_platt(np.array([3.0, 2.0, -1.0, -2.0]), np.array([False, False, True, True]))
    assert platt.a > 0
    assert fit_platt(np.array([]), np.array([], dtype=bool)) == Platt()
    p = platt(np.array([-1.0, 0.0, 1.0]))
    assert p[0] < p[1] < p[2]
