"""Several workers' answers to one item, combined into one label with a confidence.

- Classes (single-label classification, and the verdicts of label verification): AWS's
  "modified Dawid–Skene" (FORMATS.md §1.6). Each worker gets a K×K confusion matrix, first
  0.7 on the diagonal; EM alternates item posteriors (class prior × the workers' confusion
  rows) and confusion matrices re-estimated from soft counts, smoothed towards the worker's own
  accuracy (weight n) and the all-worker accuracy (weight n/2). It stops after 20 epochs or when
  the log-likelihood changes by less than 1e-8 relatively. The label is the argmax posterior,
  its confidence the max posterior rounded to 2 decimals. Two deliberate differences from
  AWS's notebook: the stopping rule uses the real (unnormalised) likelihood and its absolute
  relative change (the notebook's copy aliasing made it always run 20 epochs), and
  probabilities are multiplied in log space so that many workers cannot underflow.
- Multi-label: every label chosen by at least one worker, with the share of workers who chose
  it as its confidence (Ground Truth's formula is not published).
- Boxes: greedy one-to-one matching on IoU (≥ 0.5 by default, same label preferred) of each
  worker's boxes to the clusters so far; clusters drawn by fewer than half the workers are
  dropped; the others become the mean box (whole pixels) with the majority label and confidence
  = share of workers × mean IoU of their boxes with the result.
- One worker: the answer as given, with confidence 0.0, as Ground Truth writes when
  `NumberOfHumanWorkersPerDataObject` is 1 (FORMATS.md §1.2).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from truthloop.core.geometry import big_enough, iou
from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Value, Verification

PRIOR_ACCURACY = 0.7
MAX_EPOCHS = 20
TOLERANCE = 1e-8
MIN_IOU = 0.5
SINGLE_WORKER_CONFIDENCE = 0.0

_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class Estimate:
    """The consolidated class of one item and how sure the estimate is, in [0, 1]."""

    label: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Vote:
    """One worker's class for one item."""

    item: Hashable
    worker: Hashable
    label: str


@dataclass(frozen=True, slots=True)
class DawidSkeneFit:
    """Per item: the estimate and the posterior over classes (in class order); per worker: the
    estimated accuracy (trace of the unsmoothed confusion counts over their total)."""

    estimates: Mapping[Hashable, Estimate]
    posteriors: Mapping[Hashable, tuple[float, ...]]
    worker_accuracy: Mapping[Hashable, float]
    epochs: int


def _confusion(accuracy: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrices with `accuracy` on the diagonal and the rest spread evenly."""
    accuracy = np.asarray(accuracy, dtype=float)
    off = (1.0 - accuracy) / (k - 1)
    matrices = np.empty((*accuracy.shape, k, k))
    matrices[...] = off[..., None, None]
    diagonal = np.arange(k)
    matrices[..., diagonal, diagonal] = accuracy[..., None]
    return matrices


def _index(
    votes: Sequence[Vote], classes: Sequence[str]
) -> tuple[list[Hashable], list[Hashable], NDArray[np.intp]]:
    positions = {name: i for i, name in enumerate(classes)}
    items = list(dict.fromkeys(v.item for v in votes))
    workers = list(dict.fromkeys(v.worker for v in votes))
    item_at = {item: i for i, item in enumerate(items)}
    worker_at = {worker: i for i, worker in enumerate(workers)}
    rows = []
    for v in votes:
        if v.label not in positions:
            raise ValueError(f"vote for {v.item!r} by {v.worker!r}: {v.label!r} is not a class")
        rows.append((item_at[v.item], worker_at[v.worker], positions[v.label]))
    return items, workers, np.array(rows, dtype=np.intp).reshape(-1, 3)


def dawid_skene(
    votes: Iterable[Vote],
    classes: Sequence[str],
    *,
    prior_accuracy: float = PRIOR_ACCURACY,
    max_epochs: int = MAX_EPOCHS,
    tolerance: float = TOLERANCE,
) -> DawidSkeneFit:
    """Fit the modified Dawid–Skene model to `votes` (see the module docstring)."""
    votes = list(votes)
    k = len(classes)
    if k == 0:
        raise ValueError("Dawid–Skene needs at least one class")
    items, workers, rows = _index(votes, classes)
    if k == 1:
        return DawidSkeneFit(
            {item: Estimate(classes[0], 1.0) for item in items},
            {item: (1.0,) for item in items},
            dict.fromkeys(workers, 1.0),
            0,
        )
    vi, vw, vl = rows[:, 0], rows[:, 1], rows[:, 2]
    confusion = _confusion(np.full(len(workers), prior_accuracy), k)
    posterior = np.full((len(items), k), 1.0 / k)
    all_worker_accuracy = prior_accuracy
    accuracy = np.full(len(workers), prior_accuracy)
    previous: float | None = None
    epochs = 0
    while epochs < max_epochs:
        epochs += 1
        # E-step: posterior ∝ class prior × Π over the item's workers of confusion[true, given].
        prior = posterior.sum(axis=0) / posterior.sum()
        log_joint = np.tile(np.log(np.maximum(prior, _TINY)), (len(items), 1))
        np.add.at(log_joint, vi, np.log(np.maximum(confusion[vw, :, vl], _TINY)))
        peak = log_joint.max(axis=1, keepdims=True)
        log_evidence = peak[:, 0] + np.log(np.exp(log_joint - peak).sum(axis=1))
        posterior = np.exp(log_joint - log_evidence[:, None])
        likelihood = float(log_evidence.sum())
        # M-step: soft counts, then the Dirichlet-like smoothing of AWS's notebook.
        counts = np.zeros((len(workers), k, k))
        # counts[w, :, l] += posterior[i] for each vote, through a view indexed [w, l, :].
        np.add.at(counts.transpose(0, 2, 1), (vw, vl), posterior[vi])
        answered = counts.sum(axis=(1, 2))
        accuracy = np.trace(counts, axis1=1, axis2=2) / answered
        smoothed = (
            counts
            + _confusion(accuracy, k) * answered[:, None, None]
            + _confusion(np.array(all_worker_accuracy), k) * (answered / 2)[:, None, None]
        )
        confusion = smoothed / smoothed.sum(axis=2, keepdims=True)
        if previous is not None and abs(likelihood - previous) <= tolerance * abs(previous):
            break
        previous = likelihood
        all_worker_accuracy = float(accuracy.mean())
    best = posterior.argmax(axis=1)
    return DawidSkeneFit(
        estimates={
            item: Estimate(classes[best[i]], round(float(posterior[i, best[i]]), 2))
            for i, item in enumerate(items)
        },
        posteriors={item: tuple(float(x) for x in posterior[i]) for i, item in enumerate(items)},
        worker_accuracy={w: float(accuracy[j]) for j, w in enumerate(workers)},
        epochs=epochs,
    )


def majority_vote(labels: Sequence[str], classes: Sequence[str]) -> Estimate:
    """The most chosen class (ties go to the one first in `classes`), confidence = its share."""
    if not labels:
        raise ValueError("a majority vote needs at least one answer")
    counts = Counter(labels)
    order = {name: i for i, name in enumerate(classes)}
    winner = min(counts, key=lambda name: (-counts[name], order.get(name, len(order))))
    return Estimate(winner, round(counts[winner] / len(labels), 2))


def consolidate_classes(votes: Iterable[Vote], classes: Sequence[str]) -> dict[Hashable, Estimate]:
    """One estimate per item: Dawid–Skene over all `votes` (the other items teach it how
    reliable each worker is); an item one worker answered keeps that answer."""
    votes = list(votes)
    per_item = Counter(v.item for v in votes)
    estimates: dict[Hashable, Estimate] = {}
    if any(n > 1 for n in per_item.values()):
        estimates.update(dawid_skene(votes, classes).estimates)
    for v in votes:
        if per_item[v.item] == 1:
            estimates[v.item] = Estimate(v.label, SINGLE_WORKER_CONFIDENCE)
    return estimates


def verification_of(
    estimate: Estimate, categories: Sequence[str], answers: Sequence[Verification]
) -> Verification:
    """The consolidated verdict, with every worker's non-empty comment (Ground Truth drops empty
    ones) in answer order."""
    comments = tuple(c.strip() for a in answers for c in a.comments if c.strip())
    return Verification(
        estimate.label, list(categories).index(estimate.label), estimate.confidence, comments
    )


def consolidate_multilabel(answers: Sequence[MultiLabel], classes: Sequence[str]) -> MultiLabel:
    """Every label at least one worker chose, in class order, each with the share of workers
    who chose it."""
    if not answers:
        raise ValueError("consolidation needs at least one answer")
    chosen = Counter(name for a in answers for name in set(a.labels))
    order = {name: i for i, name in enumerate(classes)}
    labels = tuple(sorted(chosen, key=lambda name: (order.get(name, len(order)), name)))
    if len(answers) == 1:
        return MultiLabel(labels, (SINGLE_WORKER_CONFIDENCE,) * len(labels))
    return MultiLabel(labels, tuple(round(chosen[n] / len(answers), 2) for n in labels))


def _mean_box(members: Sequence[Box], *, whole_pixels: bool) -> Box:
    label = Counter(b.label for b in members).most_common(1)[0][0]
    edges = np.array([(b.left, b.top, b.right, b.bottom) for b in members]).mean(axis=0)
    if whole_pixels:
        edges = np.round(edges)
    left, top, right, bottom = (float(x) for x in edges)
    return Box(label, left, top, right - left, bottom - top)


def _match(boxes: Sequence[Box], centres: Sequence[Box], min_iou: float) -> dict[int, int]:
    """box index -> centre index, one-to-one, same label first, then highest IoU first."""
    pairs = sorted(
        (
            (box.label == centre.label, overlap, -b, -c)
            for b, box in enumerate(boxes)
            for c, centre in enumerate(centres)
            if (overlap := iou(box, centre)) >= min_iou
        ),
        reverse=True,
    )
    matched: dict[int, int] = {}
    taken: set[int] = set()
    for _, _, b, c in pairs:
        if -b not in matched and -c not in taken:
            matched[-b] = -c
            taken.add(-c)
    return matched


def consolidate_boxes(answers: Sequence[Boxes], *, min_iou: float = MIN_IOU) -> Boxes:
    """The boxes most workers agree on (see the module docstring); `adjusted` is True when any
    worker adjusted the boxes they were shown, False when all said they did not."""
    if not answers:
        raise ValueError("consolidation needs at least one answer")
    flags = [a.adjusted for a in answers if a.adjusted is not None]
    adjusted = any(flags) if flags else None
    if len(answers) == 1:
        return Boxes(
            tuple(_with_confidence(b, SINGLE_WORKER_CONFIDENCE) for b in answers[0].boxes),
            adjusted,
        )
    clusters: list[list[Box]] = []
    for answer in answers:
        centres = [_mean_box(c, whole_pixels=False) for c in clusters]
        matched = _match(answer.boxes, centres, min_iou)
        for b, box in enumerate(answer.boxes):
            if b in matched:
                clusters[matched[b]].append(box)
            else:
                clusters.append([box])
    workers = len(answers)
    result = []
    for members in clusters:
        if 2 * len(members) < workers:
            continue
        box = _mean_box(members, whole_pixels=True)
        if not big_enough(box):
            continue
        closeness = sum(iou(m, box) for m in members) / len(members)
        result.append(_with_confidence(box, round(len(members) / workers * closeness, 2)))
    return Boxes(tuple(result), adjusted)


def _with_confidence(box: Box, confidence: float) -> Box:
    return Box(box.label, box.left, box.top, box.width, box.height, confidence)


def agreement(answer: Value, consolidated: Value, *, min_iou: float = MIN_IOU) -> float:
    """How far one worker's answer agrees with the consolidated label, in [0, 1]: equal class
    or verdict; Jaccard of label sets; F1 of boxes matched one-to-one at `min_iou`, same label."""
    match answer, consolidated:
        case Classification(label=a), Classification(label=b):
            return float(a == b)
        case Verification(verdict=a), Verification(verdict=b):
            return float(a == b)
        case MultiLabel(labels=a), MultiLabel(labels=b):
            union = set(a) | set(b)
            return len(set(a) & set(b)) / len(union) if union else 1.0
        case Boxes(boxes=a), Boxes(boxes=b):
            if not a and not b:
                return 1.0
            hits = sum(
                1
                for i, j in _match(a, b, min_iou).items()
                if a[i].label == b[j].label
            )
            return 2 * hits / (len(a) + len(b))
    raise TypeError(f"cannot compare {type(answer).__name__} with {type(consolidated).__name__}")
