"""How sure a model is of a whole image's label: the number automated labeling thresholds.

For a class, it is the class's confidence. For boxes, the image is only as sure as its least
sure part: every box it would keep (confidence at least `keep`) must be right, and every
candidate below `keep` must really be nothing, or an object is missing. So the image's
confidence is the smallest of the kept boxes' confidences and of (one minus each dropped
candidate's) squared (the detector returns low-scoring candidates for this). Squared, because
a missed object's peak is weak after calibration (often 0.05-0.2, as weak as a clutter
shape's): of the images the built-in detector got wrong with the highest confidence, most
had missed an object, so a dropped candidate counts for more than a kept box of the same
doubt. The threshold is chosen on the validation set, so this only orders the images; on
synthetic logos it let the same validation set certify a few points more of them. An image
with no candidates at all is as sure as it gets: nothing in it looked like an object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from truthloop.core.types import Boxes, Classification, MultiLabel, Value

KEEP = 0.5
MISSING_POWER = 2


def image_confidence(
    value: Value, *, keep: float = KEEP, empty: float | None = None
) -> tuple[Value, float]:
    """The label the machine would give (boxes below `keep` dropped) and its confidence; an
    image it leaves without boxes at most `empty` sure (see the module docstring)."""
    match value:
        case Classification(confidence=confidence):
            return value, 1.0 if confidence is None else confidence
        case MultiLabel(labels=labels, confidences=confidences):
            sure = [c if c is not None else 1.0 for c in confidences] or [1.0]
            return value, min(sure) if labels else 1.0
        case Boxes(boxes=boxes):
            scores = [1.0 if b.confidence is None else b.confidence for b in boxes]
            kept = tuple(b for b, s in zip(boxes, scores, strict=True) if s >= keep)
            parts = [s if s >= keep else (1.0 - s) ** MISSING_POWER for s in scores]
            if not kept and empty is not None:
                parts.append(empty)
            return replace(value, boxes=kept), min(parts, default=1.0)
    raise TypeError(f"a model does not predict {type(value).__name__}")


def empty_share(values: Iterable[Value]) -> float | None:
    """How often people found nothing in an image: the share of their box labels without a
    box, Laplace-smoothed ((empty + 1) / (labels + 2)), so that a few labels neither rule an
    empty image out nor make one certain. None without box labels."""
    boxes = [v for v in values if isinstance(v, Boxes)]
    if not boxes:
        return None
    return (sum(1 for v in boxes if not v.boxes) + 1) / (len(boxes) + 2)


def class_distribution(value: Value, labels: tuple[str, ...]) -> tuple[float, ...]:
    """A feature vector of the prediction: per label, the confidence that it is present (for
    one class, the rest of the probability spread evenly over the other classes), less the
    mean over labels, so that predictions of different classes point apart."""
    shares = _shares(value, labels)
    mean = sum(shares) / len(shares) if shares else 0.0
    return tuple(x - mean for x in shares)


def _shares(value: Value, labels: tuple[str, ...]) -> tuple[float, ...]:
    match value:
        case Classification(label=label, confidence=confidence):
            sure = 1.0 if confidence is None else confidence
            rest = (1.0 - sure) / max(len(labels) - 1, 1)
            return tuple(sure if name == label else rest for name in labels)
        case MultiLabel(labels=present, confidences=confidences):
            found = dict(zip(present, confidences or (1.0,) * len(present), strict=True))
            return tuple(float(found.get(name) or 0.0) for name in labels)
        case Boxes(boxes=boxes):
            totals = dict.fromkeys(labels, 0.0)
            for box in boxes:
                totals[box.label] = totals.get(box.label, 0.0) + (box.confidence or 0.0)
            return tuple(totals[name] for name in labels)
    raise TypeError(f"a model does not predict {type(value).__name__}")
