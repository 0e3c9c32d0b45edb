"""truthloop: label images with a model in the loop, offline.

Everything a notebook needs is importable from here:

    import truthloop
    project = truthloop.Project.init("my-project")
    truthloop.import_dataset(project, "logos", "logos/output.manifest", fmt="groundtruth")
"""

from truthloop.config import Settings
from truthloop.core.types import (
    Annotation,
    AnnotationKind,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    MultiLabel,
    Source,
    Split,
    Verification,
)
from truthloop.datasets.exporting import ExportReport, export_dataset
from truthloop.datasets.importing import ImportReport, import_dataset
from truthloop.errors import TruthloopError
from truthloop.labeling.feedback import (
    FeedbackMode,
    FeedbackRun,
    get_feedback,
    list_feedback,
    start_feedback,
)
from truthloop.labeling.feedback_collect import CollectResult, collect_feedback
from truthloop.labeling.feedback_counts import FeedbackCounts
from truthloop.labeling.feedback_report import FeedbackReport, feedback_report
from truthloop.ml.backend import Task
from truthloop.ml.evaluate import Evaluation
from truthloop.ml.registry import (
    Comparison,
    compare_versions,
    evaluate_version,
    export_version,
    get_version,
    list_versions,
    predict_dataset,
    train_version,
)
from truthloop.ml.serving import detect, start_version, stop_version
from truthloop.ml.versions import ModelVersion, VersionStatus
from truthloop.storage.project import Project

__all__ = [
    "Annotation",
    "AnnotationKind",
    "Box",
    "Boxes",
    "Classification",
    "CollectResult",
    "Comparison",
    "Evaluation",
    "ExportReport",
    "FeedbackCounts",
    "FeedbackMode",
    "FeedbackReport",
    "FeedbackRun",
    "ImageRecord",
    "ImageSize",
    "ImportReport",
    "LabelSet",
    "ModelVersion",
    "MultiLabel",
    "Project",
    "Settings",
    "Source",
    "Split",
    "Task",
    "TruthloopError",
    "Verification",
    "VersionStatus",
    "collect_feedback",
    "compare_versions",
    "detect",
    "evaluate_version",
    "export_dataset",
    "export_version",
    "feedback_report",
    "get_feedback",
    "get_version",
    "import_dataset",
    "list_feedback",
    "list_versions",
    "predict_dataset",
    "start_feedback",
    "start_version",
    "stop_version",
    "train_version",
]
