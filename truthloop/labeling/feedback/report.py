"""The end of a feedback run: train the next version on the verified dataset and compare it
with the version that proposed the labels, on one test set, as Rekognition's feedback
walkthrough did; and what the verified dataset cost in human seconds against labeling it from
scratch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from truthloop.core.effort import manual_seconds
from truthloop.errors import InputError, NotFound
from truthloop.labeling.feedback.counts import FeedbackCounts
from truthloop.labeling.feedback.runs import get_feedback, run_row
from truthloop.ml.backend import ProgressCallback
from truthloop.ml.registry import Comparison, compare_versions, get_version, train_version
from truthloop.storage import datasets as store
from truthloop.storage.project import Project


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    """V1 and V2 side by side on `comparison.dataset`, and the human cost of V2's data."""

    run: str
    comparison: Comparison
    counts: FeedbackCounts
    human_seconds: float
    scratch_seconds: float  # labeling the verified images by hand, same units

    @property
    def human_share(self) -> float | None:
        """Human seconds spent as a share of labeling from scratch (lower is better)."""
        return self.human_seconds / self.scratch_seconds if self.scratch_seconds else None

    def to_json(self) -> dict[str, Any]:
        v1, v2 = self.comparison.versions
        e1, e2 = self.comparison.evaluations
        return {
            "run": self.run,
            "test_dataset": self.comparison.dataset,
            "v1": v1.name,
            "v2": v2.name,
            "v1_f1": e1.f1,
            "v2_f1": e2.f1,
            "counts": self.counts.to_json(),
            "human_seconds": self.human_seconds,
            "scratch_human_seconds": self.scratch_seconds,
            "human_share": self.human_share,
            "comparison": self.comparison.to_json(),
        }


def feedback_report(
    project: Project,
    run: str,
    test_dataset: str,
    *,
    from_v1_weights: bool = True,
    retrain: bool = False,
    train: bool = True,
    epochs: int | None = None,
    progress: ProgressCallback | None = None,
) -> FeedbackReport:
    """Train V2 on the run's verified dataset (starting from V1's weights unless told not to;
    once per run, unless `retrain`), then evaluate V1 and V2 on `test_dataset`. With
    `train=False` (the web server, which never trains in a request) V2 must exist already."""
    found = get_feedback(project, run)
    if found.verified_dataset is None or found.counts is None or found.human_seconds is None:
        raise InputError(
            f"feedback run {run!r} is not collected yet: run `{found.collect_command}` first"
        )
    with project.session() as session:
        store.get_dataset(session, test_dataset)
        verified = store.get_dataset(session, found.verified_dataset)
        values = [
            a.value
            for _, record in store.iter_records(session, verified.id)
            for a in record.annotations
        ]
    v1 = get_version(project, found.model)
    v2 = _trained_before(project, found.next_version) if not retrain else None
    if v2 is None and not train:
        raise InputError(
            f"feedback run {run!r} has no trained v2 yet: train it with"
            f" `truthloop feedback report {run} --test-dataset {test_dataset}`"
        )
    if v2 is None:
        v2 = train_version(
            project,
            v1.project,
            dataset=found.verified_dataset,
            task=v1.task,
            test_dataset=test_dataset,
            from_version=v1.name if from_v1_weights else None,
            epochs=epochs,
            progress=progress,
        ).name
        with project.session() as session:
            run_row(session, run).next_version = v2
    return FeedbackReport(
        run,
        compare_versions(project, v1.name, v2, test_dataset),
        found.counts,
        found.human_seconds,
        manual_seconds(values),
    )


def _trained_before(project: Project, name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return name if get_version(project, name).status.trained else None
    except NotFound:
        return None
