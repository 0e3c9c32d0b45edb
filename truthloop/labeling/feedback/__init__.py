"""Model-assisted annotation of a larger set (Rekognition's feedback workflow): a trained model
version proposes labels for every image of a dataset, and a team verifies (approve / reject) or
adjusts them in batches of labeling jobs.

    run = start_feedback(project, model="logos.v1", dataset="logos-more", team="crew",
                         mode="adjust", batch_size=10)
    ... people work the jobs in run.batches ...
    collect_feedback(project, run.name)          # see feedback.collect
    feedback_report(project, run.name, "logos-test")   # see feedback.report

Each batch is a job of its own, and its proposals are stored under an attribute of their own
(`<run>-proposals-NNN`): a job covers the items that carry its proposals attribute, which is what
keeps a batch to its own images. Everything `start_feedback` stores is one transaction, so a
refused or failed start leaves the project as it was.

The modules: `runs` (starting a run, its batches and their proposals), `collect` (the verified
labels into a dataset), `counts` (how much the proposals helped: pure), `report` (the next
version trained on them, compared with the one that proposed).
"""
from truthloop.labeling.feedback.collect import CollectResult, answered_counts, collect_feedback
from truthloop.labeling.feedback.counts import FeedbackCounts
from truthloop.labeling.feedback.report import FeedbackReport, feedback_report
from truthloop.labeling.feedback.runs import (
    FeedbackMode,
    FeedbackRun,
    get_feedback,
    list_feedback,
    start_feedback,
)

__all__ = [
    "CollectResult",
    "FeedbackCounts",
    "FeedbackMode",
    "FeedbackReport",
    "FeedbackRun",
    "answered_counts",
    "collect_feedback",
    "feedback_report",
    "get_feedback",
    "list_feedback",
    "start_feedback",
]
