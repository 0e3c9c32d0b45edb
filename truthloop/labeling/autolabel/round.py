"""The model's part of an automated-labeling round: trained (or reused) on people's labels
outside the validation set, asked for its labels of the unlabeled items and the validation set,
and judged on the validation set, which gives the threshold it may label at.

A validation item is right when the model's label is the label of a person who labeled it.
People slip (a wrong class on one box in fifty makes one image in twenty wrong), so where the
model disagrees with the one person who labeled an item among its surest, a second person labels
it, and a third where the two differ from each other too (`disputed`, those
`core.thresholds.worth_second_opinions` asks for, labeled in the next round;
`core.correctness.judge`): if one agrees with the model, the others slipped. The model is then
counted right wrongly only when a person makes the very mistake the model made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from truthloop.core.confidence import empty_share, image_confidence
from truthloop.core.correctness import is_correct, judge, matched_ious
from truthloop.core.rounds import validation_worth_growing
from truthloop.core.thresholds import (
    Coverage,
    choose_threshold,
    coverage,
    worth_second_opinions,
)
from truthloop.core.types import Boxes, Value
from truthloop.labeling.autolabel.items import LabeledItem
from truthloop.labeling.autolabel.model import ModelTerms, predict_with, reuse, train
from truthloop.storage.project import Project

# People asked about one validation item at most: a third settles two who differ; past that,
# an image people cannot agree on is left counted against the model.
MOST_OPINIONS = 3


@dataclass(frozen=True, slots=True)
class ModelRound:
    """What the round's model said: its labels by item (`found`, boxes below the keep level
    included; `sure`, the label the machine would give and how sure it is of it), the threshold
    chosen (and what the validation set says at it, or over all of it when none qualified)."""

    found: dict[int, Value]
    sure: dict[int, tuple[Value, float]]
    chosen: Coverage | None
    overall: Coverage | None
    version: str | None
    mean_iou: float | None
    disputed: tuple[int, ...]  # validation items whose people leave the model's label unsettled
    validation_needed: int | None  # the validation size worth growing to


NO_MODEL = ModelRound({}, {}, None, None, None, None, (), None)
"""A round without a model: there was nothing to learn from yet."""


def model_round(
    project: Project,
    terms: ModelTerms,
    labeled: Sequence[LabeledItem],
    validation: set[int],
    pool: Sequence[tuple[int, str]],
    *,
    model_project: str,
    dataset: str,
    start_from: str | None,
    learn: bool,
    target: float,
    confidence: float,
    most: int,
    report: Mapping[str, Any],
) -> ModelRound:
    """Train on people's labels outside the validation set (from `start_from` when given;
    when this round brought new ones to `learn` from), predict the `pool` and the validation
    set, and judge the model there."""
    records = [x.record() for x in labeled if x.item_id not in validation]
    trained = (
        train(
            project,
            terms,
            records,
            model_project=model_project,
            dataset=dataset,
            start_from=start_from,
            report=report,
        )
        if start_from is None or (records and learn)
        else reuse(project, start_from)  # nothing new to learn from: a chained job's first
    )
    checked: dict[int, list[LabeledItem]] = {}
    for x in labeled:
        if x.item_id in validation:
            checked.setdefault(x.item_id, []).append(x)
    targets = [(i, people[0].uri) for i, people in checked.items()]
    found = predict_with(project, trained, [*pool, *targets])
    empty = empty_share(x.value for x in labeled if x.item_id not in validation)
    return judged(found, checked, pool, trained.version.name, target, confidence, most, empty)


def judged(
    found: dict[int, Value],
    checked: Mapping[int, Sequence[LabeledItem]],
    pool: Sequence[tuple[int, str]],
    version: str,
    target: float,
    confidence: float,
    most: int,
    empty: float | None = None,
) -> ModelRound:
    """The round of the model `version`, whose labels are `found`, judged on the validation
    items `checked` (each with the people who labeled it); `empty` is how often people leave
    an image without boxes (`core.confidence.empty_share`)."""
    sure = {i: image_confidence(value, empty=empty) for i, value in found.items()}
    scored: list[tuple[float, bool]] = []
    ious: list[tuple[float, list[float]]] = []
    disputed: dict[int, float] = {}
    for item_id, people in checked.items():
        if item_id not in sure:
            continue
        label, score = sure[item_id]
        verdict = judge(label, [x.value for x in people])
        scored.append((score, verdict is True))
        if verdict is None and len(people) < MOST_OPINIONS:
            disputed[item_id] = score
        agreed = [x.value for x in people if is_correct(label, x.value)]
        truth = (agreed or [people[0].value])[0]
        if isinstance(truth, Boxes) and isinstance(label, Boxes):
            ious.append((score, matched_ious(truth.boxes, label.boxes)))
    chosen = choose_threshold(scored, target, confidence)
    overall = chosen or (coverage(0.0, scored, confidence) if scored else None)
    cut = chosen.threshold if chosen else 0.0
    kept = [v for score, values in ious for v in values if score >= cut]
    mean_iou = sum(kept) / len(kept) if kept else None
    asked = worth_second_opinions(disputed, chosen, scored, target, confidence)
    left = [sure[i][1] for i, _ in pool if i in sure]
    grow = validation_worth_growing(left, scored, chosen, most, target, confidence)
    return ModelRound(found, sure, chosen, overall, version, mean_iou, asked, grow)


def machine_labels(
    pool: Sequence[tuple[int, str]],
    sure: Mapping[int, tuple[Value, float]],
    chosen: Coverage | None,
) -> list[tuple[int, Value]]:
    """The labels the machine gives: those of the pool's items at or above the threshold."""
    if chosen is None:
        return []
    return [
        (item_id, sure[item_id][0])
        for item_id, _ in pool
        if item_id in sure and sure[item_id][1] >= chosen.threshold
    ]


@dataclass(frozen=True, slots=True)
class Proposals:
    """A model version's labels by item, to show people as proposals."""

    version: str
    found: dict[int, Value]

    def of(self, item_ids: Sequence[int]) -> list[tuple[int, Value]]:
        """The labels the machine would give these items; none for an image where it would
        draw no box, as a person then draws from scratch anyway."""
        labels = [(i, image_confidence(self.found[i])[0]) for i in item_ids if i in self.found]
        return [(i, v) for i, v in labels if not (isinstance(v, Boxes) and not v.boxes)]
