"""truthloop: label images with a model in the loop, offline.

Everything a notebook needs is importable from here:

    import truthloop
    project = truthloop.Project.init("my-project")
    truthloop.import_dataset(project, "logos", "logos/output.manifest", fmt="groundtruth")
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
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
    from truthloop.labeling.feedback.collect import CollectResult, collect_feedback
    from truthloop.labeling.feedback.counts import FeedbackCounts
    from truthloop.labeling.feedback.report import FeedbackReport, feedback_report
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
    from truthloop.ml.serving import start_version, stop_version
    from truthloop.ml.versions import ModelVersion, VersionStatus
    from truthloop.people import add_member, add_team, add_user
    from truthloop.review.routing import detect
    from truthloop.sim.logos import generate_logos
    from truthloop.sim.loop_bench import LoopResult, run_loop
    from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
    from truthloop.storage.project import Project

_LAZY = {
    "Annotation": "truthloop.core.types",
    "AnnotationKind": "truthloop.core.types",
    "AutoLabelSpec": "truthloop.labeling.autolabel",
    "Box": "truthloop.core.types",
    "Boxes": "truthloop.core.types",
    "Classification": "truthloop.core.types",
    "CollectResult": "truthloop.labeling.feedback.collect",
    "Comparison": "truthloop.ml.registry",
    "Evaluation": "truthloop.ml.evaluate",
    "ExportReport": "truthloop.datasets.exporting",
    "FeedbackCounts": "truthloop.labeling.feedback.counts",
    "FeedbackMode": "truthloop.labeling.feedback",
    "FeedbackReport": "truthloop.labeling.feedback.report",
    "FeedbackRun": "truthloop.labeling.feedback",
    "ImageRecord": "truthloop.core.types",
    "ImageSize": "truthloop.core.types",
    "ImportReport": "truthloop.datasets.importing",
    "JobSpec": "truthloop.labeling",
    "LabelSet": "truthloop.core.types",
    "LoopResult": "truthloop.sim.loop_bench",
    "ModelVersion": "truthloop.ml.versions",
    "MultiLabel": "truthloop.core.types",
    "Project": "truthloop.storage.project",
    "Settings": "truthloop.config",
    "SimulatedWorkforce": "truthloop.sim.workforce",
    "Source": "truthloop.core.types",
    "Split": "truthloop.core.types",
    "Task": "truthloop.ml.backend",
    "TaskType": "truthloop.labeling",
    "TruthloopError": "truthloop.errors",
    "Verification": "truthloop.core.types",
    "VersionStatus": "truthloop.ml.versions",
    "WorkerProfile": "truthloop.sim.workforce",
    "add_member": "truthloop.people",
    "add_team": "truthloop.people",
    "add_user": "truthloop.people",
    "advance": "truthloop.labeling.autolabel",
    "collect_feedback": "truthloop.labeling.feedback.collect",
    "compare_versions": "truthloop.ml.registry",
    "create_autolabel_job": "truthloop.labeling.autolabel",
    "create_job": "truthloop.labeling",
    "detect": "truthloop.review.routing",
    "evaluate_version": "truthloop.ml.registry",
    "export_dataset": "truthloop.datasets.exporting",
    "export_manifest": "truthloop.labeling",
    "export_version": "truthloop.ml.registry",
    "feedback_report": "truthloop.labeling.feedback.report",
    "generate_logos": "truthloop.sim.logos",
    "get_feedback": "truthloop.labeling.feedback",
    "get_version": "truthloop.ml.registry",
    "import_dataset": "truthloop.datasets.importing",
    "iterations": "truthloop.labeling.autolabel",
    "job_progress": "truthloop.labeling",
    "list_feedback": "truthloop.labeling.feedback",
    "list_versions": "truthloop.ml.registry",
    "next_task": "truthloop.labeling",
    "predict_dataset": "truthloop.ml.registry",
    "run_autolabel": "truthloop.labeling.autolabel",
    "run_loop": "truthloop.sim.loop_bench",
    "start_feedback": "truthloop.labeling.feedback",
    "start_version": "truthloop.ml.serving",
    "stop_version": "truthloop.ml.serving",
    "submit": "truthloop.labeling",
    "train_version": "truthloop.ml.registry",
}
"""Each public name -> the module it comes from, imported on first use (see `__getattr__`)."""


def __getattr__(name: str) -> _Any:
    """Import a public name's module on first use: `import truthloop` (and every command of
    the CLI, which imports a submodule) stays light, and torch loads only when a model does."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
