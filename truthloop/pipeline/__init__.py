"""Continuous model improvement (workflow 4): pipelines, their parameter store with its change
history, and their run history.

    create_pipeline(session, PipelineSpec(...)) -> row   get_pipeline, list_pipelines
    set_deployed(session, name, version, trained_images)
    get_params(session, pipeline) -> {name: value}       get_param(session, pipeline, name)
    set_param(session, pipeline, name, value) -> ParamChange
    param_history(session, pipeline, name=, limit=)
    start_run(session, pipeline_id, kind, input) -> run  step(session, run, name, input)
    finish_run(session, run, status, output, error)      list_runs, get_run -> (run, steps)
"""

from truthloop.pipeline.params import (
    ParamChange,
    get_param,
    get_params,
    param_history,
    set_param,
)
from truthloop.pipeline.pipelines import (
    TASKS,
    PipelineSpec,
    create_pipeline,
    get_pipeline,
    list_pipelines,
    set_deployed,
)
from truthloop.pipeline.runs import (
    RunKind,
    RunStatus,
    finish_run,
    get_run,
    list_runs,
    start_run,
    step,
)

__all__ = [
    "TASKS",
    "ParamChange",
    "PipelineSpec",
    "RunKind",
    "RunStatus",
    "create_pipeline",
    "finish_run",
    "get_param",
    "get_params",
    "get_pipeline",
    "get_run",
    "list_pipelines",
    "list_runs",
    "param_history",
    "set_deployed",
    "set_param",
    "start_run",
    "step",
]
