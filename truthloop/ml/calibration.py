"""Confidence calibration fitted on held-out images, so that 0.9 means right about 90 % of the time.

Single-label classifiers use temperature scaling of the softmax (one number, so it cannot
change which label wins). Multi-label classifiers and detectors use Platt scaling of their
per-label or per-box logits: p = sigmoid(a * logit + b), with a weak pull towards the identity
(a = 1, b = 0) so that a handful of held-out images cannot push it to an extreme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

_MIN_SLOPE = 0.01


def softmax(logits: NDArray[np.floating], temperature: float = 1.0) -> Floats:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(x: NDArray[np.floating]) -> Floats:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def logit(p: NDArray[np.floating]) -> Floats:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(q / (1 - q))


def fit_temperature(
    logits: NDArray[np.floating], targets: NDArray[np.integer], prior: float = 1.0
) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T), plus
    prior * log(T)^2 so that a handful of images cannot push it to an extreme."""

    def nll(log_t: float) -> float:
        p = softmax(logits, math.exp(log_t))
        loss = -np.log(p[np.arange(len(targets)), targets] + 1e-12).sum()
        return float(loss + prior * log_t**2)

    # The likelihood is unimodal in log T: golden-section search over T in [0.05, 20].
    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return math.exp((low + high) / 2)


@dataclass(frozen=True, slots=True)
class Platt:
    """p = sigmoid(a * logit + b); the default is the identity."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, logits: NDArray[np.floating]) -> Floats:
        return sigmoid(self.a * np.asarray(logits, dtype=np.float64) + self.b)


def fit_platt(
    logits: NDArray[np.floating], outcomes: NDArray[np.bool_], prior: float = 1.0
) -> Platt:
    """Platt scaling fitted by Newton's method (with step halving) on the penalised
    log-likelihood. `prior` weighs the penalty prior * ((a - 1)^2 + b^2) against the sum of
    log-losses.
    """
    z = np.asarray(logits, dtype=np.float64).ravel()
    y = np.asarray(outcomes, dtype=np.float64).ravel()
    if z.size == 0:
        return Platt()
    identity = np.array([1.0, 0.0])

    def loss(w: Floats) -> float:
        x = w[0] * z + w[1]
        # -log sigmoid(x) = logaddexp(0, -x), stable for any x.
        nll = y @ np.logaddexp(0, -x) + (1 - y) @ np.logaddexp(0, x)
        return float(nll + prior * np.sum((w - identity) ** 2))

    w = identity.copy()
    current = loss(w)
    for _ in range(100):
        p = sigmoid(w[0] * z + w[1])
        r = p - y
        grad = np.array([r @ z, r.sum()]) + 2 * prior * (w - identity)
        s = p * (1 - p)
        hess = np.array([[s @ (z * z), s @ z], [s @ z, s.sum()]]) + 2 * prior * np.eye(2)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-6 and loss(w - size * step) > current:
            size /= 2
        w = w - size * step
        previous, current = current, loss(w)
        if previous - current < 1e-10 * max(1.0, abs(current)):
            break
    # A slope at or below zero would tie or reverse the ranking of boxes or labels; a model
    # that poor keeps its order and gets confidences near the held-out precision instead.
    return Platt(max(float(w[0]), _MIN_SLOPE), float(w[1]))
