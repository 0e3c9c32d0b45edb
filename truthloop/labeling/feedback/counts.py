"""How much a model's proposals helped: per image, which proposals people accepted unchanged,
adjusted, rejected, and which labels they had to add. Pure functions over core values.

In verify mode a person judges an image's proposal as a whole (Ground Truth's label
verification), so every proposed box of a rejected image counts as rejected. In adjust mode the
person's boxes are matched to the proposals one to one, by overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from truthloop.core.geometry import iou
from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Value, label_names

# A person's box that overlaps a proposal at least this much is that proposal moved (or
# relabeled), not a new box (the PASCAL VOC match criterion).
MATCH_IOU = 0.5
# Edges within this many pixels of the proposal's are the proposal kept as it was: a drag
# handle that was touched but not moved still rounds to a new float.
UNCHANGED_PX = 1.0


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    accepted: int = 0  # proposals kept unchanged
    adjusted: int = 0  # proposals kept with a changed box
    rejected: int = 0  # proposals dropped
    added: int = 0  # labels people added that no proposal had

    def __add__(self, other: FeedbackCounts) -> FeedbackCounts:
        return FeedbackCounts(
            self.accepted + other.accepted,
            self.adjusted + other.adjusted,
            self.rejected + other.rejected,
            self.added + other.added,
        )

    @property
    def proposals(self) -> int:
        return self.accepted + self.adjusted + self.rejected

    def to_json(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "adjusted": self.adjusted,
            "rejected": self.rejected,
            "added": self.added,
        }


def total(counts: Iterable[FeedbackCounts]) -> FeedbackCounts:
    return sum(counts, FeedbackCounts())


def proposal_size(value: Value) -> int:
    """How many labels a proposal makes: its boxes, or its classes."""
    return len(value.boxes) if isinstance(value, Boxes) else len(label_names(value))


def verdict_counts(proposal: Value, accepted: bool) -> FeedbackCounts:
    n = proposal_size(proposal)
    return FeedbackCounts(accepted=n) if accepted else FeedbackCounts(rejected=n)


def _same_place(a: Box, b: Box) -> bool:
    return all(
        abs(x - y) <= UNCHANGED_PX
        for x, y in ((a.left, b.left), (a.top, b.top), (a.right, b.right), (a.bottom, b.bottom))
    )


def adjustment_counts(proposal: Boxes, final: Boxes) -> FeedbackCounts:
    """Match the person's boxes to the proposals, best overlaps first, each used once."""
    pairs = sorted(
        (
            (iou(p, f), i, j)
            for i, p in enumerate(proposal.boxes)
            for j, f in enumerate(final.boxes)
        ),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < MATCH_IOU:
            break
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    unchanged = sum(
        1
        for i, j in matched.items()
        if proposal.boxes[i].label == final.boxes[j].label
        and _same_place(proposal.boxes[i], final.boxes[j])
    )
    return FeedbackCounts(
        accepted=unchanged,
        adjusted=len(matched) - unchanged,
        rejected=len(proposal.boxes) - len(matched),
        added=len(final.boxes) - len(matched),
    )


def without_confidence(value: Value) -> Value:
    """A proposal a person approved: the same labels, no longer a model's guess."""
    match value:
        case Boxes(boxes=boxes):
            return Boxes(tuple(replace(b, confidence=None) for b in boxes))
        case Classification():
            return replace(value, confidence=None)
        case MultiLabel(labels=labels):
            return MultiLabel(labels)
    raise TypeError(f"not a proposal: {value!r}")


def above(value: Value, min_confidence: float) -> Value | None:
    """The part of a prediction at or above `min_confidence`; None when nothing of it is."""
    match value:
        case Boxes(boxes=boxes):
            return Boxes(tuple(b for b in boxes if (b.confidence or 0.0) >= min_confidence))
        case Classification(confidence=confidence):
            return value if (confidence or 0.0) >= min_confidence else None
        case MultiLabel(labels=labels, confidences=confidences):
            kept = [
                (name, c) for name, c in zip(labels, confidences or (None,) * len(labels),
                                              strict=True)
                if (c or 0.0) >= min_confidence
            ]
            if not kept:
                return None
            return MultiLabel(tuple(n for n, _ in kept), tuple(c for _, c in kept))
    raise TypeError(f"not a prediction: {value!r}")
