"""The human-effort model: how many seconds a person spends on each labeling action.

The simulated workforce (`sim/workforce.py`) charges its workers these seconds, and the feedback
report (`labeling/feedback/report.py`) compares the time people spent with what labeling the same
images from scratch would have cost (`manual_seconds`). Both read one table, so a report and a
benchmark never disagree about what an action costs.

Seconds per action come from the annotation literature (the README's "Simulated workforce"
paragraph cites them):

- 7 s to draw a tight box by extreme clicking, 35 s the traditional way (Papadopoulos, Uijlings,
  Keller, Ferrari, "Extreme clicking for efficient object annotation", ICCV 2017);
- 1.6 s to verify a box (Papadopoulos, Uijlings, Keller, Ferrari, "We don't need no
  bounding-boxes: training object class detectors using only human verification", CVPR 2016);
- 3 s to classify an image and 1 s per task to look at it and submit: assumptions of the same
  order as those papers report for image-level labels;
- 1.6 s to accept a suggested class at a glance (as verifying a box), 5 s to move or resize a
  proposed box (an assumption).

Pure: no I/O, nothing from outside `core`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from truthloop.core.types import Boxes, Value


@dataclass(frozen=True)
class ActionSeconds:
    """Seconds per action, defaults from the annotation literature (see the module docstring)."""

    draw_box: float = 7.0  # extreme clicking (Papadopoulos et al., ICCV 2017); 35 s traditional
    verify_box: float = 1.6  # yes/no on a proposed box (Papadopoulos et al., CVPR 2016)
    adjust_box: float = 5.0  # move/resize a proposed box
    classify: float = 3.0  # pick the class of an image
    verify_label: float = 1.6  # confirm/reject an image-level proposal
    overhead: float = 1.0  # per task: look at the image, submit

    # Drawing a box the traditional way (Papadopoulos et al., ICCV 2017).
    TRADITIONAL_DRAW_BOX: ClassVar[float] = 35.0

    def box_seconds(self, traditional: bool) -> float:
        return self.TRADITIONAL_DRAW_BOX if traditional else self.draw_box


def task_seconds(
    actions: Mapping[str, int],
    seconds: ActionSeconds = ActionSeconds(),
    *,
    traditional_boxes: bool = False,
) -> float:
    """What one task made of `actions` (action name -> count) takes, its overhead included."""
    per_action = {
        "draw_box": seconds.box_seconds(traditional_boxes),
        "verify_box": seconds.verify_box,
        "adjust_box": seconds.adjust_box,
        "classify": seconds.classify,
        "verify_label": seconds.verify_label,
    }
    return seconds.overhead + sum(n * per_action[action] for action, n in actions.items())


def manual_seconds(
    truth_values: Iterable[Value],
    seconds: ActionSeconds = ActionSeconds(),
    *,
    traditional_boxes: bool = False,
) -> float:
    """What labeling these from scratch by hand would cost, in the workers' seconds."""
    total = 0.0
    for value in truth_values:
        total += seconds.overhead
        if isinstance(value, Boxes):
            total += len(value.boxes) * seconds.box_seconds(traditional_boxes)
        else:
            total += seconds.classify
    return total


__all__ = ["ActionSeconds", "manual_seconds", "task_seconds"]
