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
from truthloop.labeling import (
    JobSpec,
    TaskType,
    create_job,
    export_manifest,
    job_progress,
    next_task,
    submit,
)
from truthloop.labeling.autolabel import (
    AutoLabelSpec,
    advance,
    create_autolabel_job,
    iterations,
    run_autolabel,
)
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
from truthloop.people import add_member, add_team, add_user
from truthloop.sim.logos import generate_logos
from truthloop.sim.loop_bench import LoopResult, run_loop
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage.project import Project

__all__ = [
    "Annotation",
    "AnnotationKind",
    "AutoLabelSpec",
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
    "JobSpec",
    "LabelSet",
    "LoopResult",
    "ModelVersion",
    "MultiLabel",
    "Project",
    "Settings",
    "SimulatedWorkforce",
    "Source",
    "Split",
    "Task",
    "TaskType",
    "TruthloopError",
    "Verification",
    "VersionStatus",
    "WorkerProfile",
    "add_member",
    "add_team",
    "add_user",
    "advance",
    "collect_feedback",
    "compare_versions",
    "create_autolabel_job",
    "create_job",
    "detect",
    "evaluate_version",
    "export_dataset",
    "export_manifest",
    "export_version",
    "feedback_report",
    "generate_logos",
    "get_feedback",
    "get_version",
    "import_dataset",
    "iterations",
    "job_progress",
    "list_feedback",
    "list_versions",
    "next_task",
    "predict_dataset",
    "run_autolabel",
    "run_loop",
    "start_feedback",
    "start_version",
    "stop_version",
    "submit",
    "train_version",
]
