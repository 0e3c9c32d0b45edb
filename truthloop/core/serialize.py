"""Annotation values to and from plain JSON-able dicts (how the database stores them)."""

from __future__ import annotations

from typing import Any

from truthloop.core.types import (
    AnnotationKind,
    Box,
    Boxes,
    Classification,
    MultiLabel,
    Value,
    Verification,
)


def value_to_json(value: Value) -> dict[str, Any]:
    match value:
        case Classification(label=label, confidence=confidence):
            return {"label": label, "confidence": confidence}
        case MultiLabel(labels=labels, confidences=confidences):
            return {"labels": list(labels), "confidences": list(confidences)}
        case Boxes(boxes=boxes, adjusted=adjusted):
            return {
                "boxes": [[b.label, b.left, b.top, b.width, b.height, b.confidence] for b in boxes],
                "adjusted": adjusted,
            }
        case Verification(verdict=verdict, verdict_id=verdict_id, confidence=c, comments=comments):
            return {
                "verdict": verdict,
                "verdict_id": verdict_id,
                "confidence": c,
                "comments": list(comments),
            }
    raise TypeError(f"not an annotation value: {value!r}")


def value_from_json(kind: str, data: dict[str, Any]) -> Value:
    match AnnotationKind(kind):
        case AnnotationKind.CLASSIFICATION:
            return Classification(data["label"], data.get("confidence"))
        case AnnotationKind.MULTILABEL:
            return MultiLabel(tuple(data["labels"]), tuple(data.get("confidences") or ()))
        case AnnotationKind.BOXES:
            return Boxes(
                tuple(Box(*row) for row in data["boxes"]),
                adjusted=data.get("adjusted"),
            )
        case AnnotationKind.VERIFICATION:
            return Verification(
                data["verdict"],
                data["verdict_id"],
                data.get("confidence"),
                tuple(data.get("comments") or ()),
            )


def value_confidence(value: Value) -> float | None:
    """One confidence for the whole value: its own, or the least confident of its parts."""
    match value:
        case Classification(confidence=c) | Verification(confidence=c):
            return c
        case MultiLabel(confidences=cs):
            known = [c for c in cs if c is not None]
            return min(known) if known else None
        case Boxes(boxes=boxes):
            known = [b.confidence for b in boxes if b.confidence is not None]
            return min(known) if known else None
    raise TypeError(f"not an annotation value: {value!r}")
