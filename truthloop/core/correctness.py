"""Whether a label is right against the truth, as automated labeling counts it.

A class label is right when it is the true class; a set of labels when it is the true set. An
image's boxes are right when they match the true boxes one to one at IoU >= 0.5 with the right
labels, so a missed object, an extra box or a wrong label each make the whole image wrong (and
an image with no objects is right only with no boxes).
"""

from __future__ import annotations

from collections.abc import Sequence

from truthloop.core.geometry import iou
from truthloop.core.metrics import match_boxes
from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Value

MIN_IOU = 0.5


def boxes_match(truth: Sequence[Box], found: Sequence[Box], min_iou: float = MIN_IOU) -> bool:
    """Every found box is a true positive and every true box is found, one to one."""
    if len(truth) != len(found):
        return False
    return all(match_boxes(truth, found, min_iou))


def is_correct(found: Value, truth: Value) -> bool:
    """Whether `found` is the same label as `truth` (see the module docstring)."""
    match found, truth:
        case Classification(label=a), Classification(label=b):
            return a == b
        case MultiLabel(labels=a), MultiLabel(labels=b):
            return set(a) == set(b)
        case Boxes(boxes=a), Boxes(boxes=b):
            return boxes_match(b, a)
    raise TypeError(f"cannot compare {type(found).__name__} with {type(truth).__name__}")


def judge(found: Value, people: Sequence[Value]) -> bool | None:
    """Whether `found` is right by the labels people gave the same item: True when it is the
    label of any of them, False when it is none of theirs and two of them agree with each
    other, None while that is unsettled (one person, or people who all differ).

    People slip: a second person who disagrees with the first, and with the model, shows that
    somebody slipped without showing who. On synthetic logos 3 of 206 validation images
    carried two labels that were both wrong where the model was right."""
    if any(is_correct(found, label) for label in people):
        return True
    if any(is_correct(a, b) for i, a in enumerate(people) for b in people[i + 1 :]):
        return False
    return None


def matched_ious(truth: Sequence[Box], found: Sequence[Box]) -> list[float]:
    """The IoU of each true box with the best same-label found box not taken by another (0 for
    a true box nothing overlaps), greedy by overlap: the figure Ground Truth averages."""
    pairs = sorted(
        (
            (iou(t, f), i, j)
            for i, t in enumerate(truth)
            for j, f in enumerate(found)
            if t.label == f.label
        ),
        reverse=True,
    )
    best = [0.0] * len(truth)
    used_truth: set[int] = set()
    used_found: set[int] = set()
    for overlap, i, j in pairs:
        if overlap <= 0 or i in used_truth or j in used_found:
            continue
        best[i] = overlap
        used_truth.add(i)
        used_found.add(j)
    return best
