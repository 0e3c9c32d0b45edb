"""Continuous model improvement (workflow 4): pipelines, their parameter store with its change
history, and their run history.

    create_pipeline(session, PipelineSpec(...)) -> row   get_pipeline, list_pipelines
    set_deployed(session, name, version, trained_images)
    get_params(session, pipeline) -> {name: value}       get_param(session, pipeline, name)
    set_param(session, pipeline, name, value) -> ParamChange
    subscribe(session, pipeline, kind, target, events=)   unsubscribe, list_subscribers
    notify(session, pipeline, event, facts)  check_backlog(session, pipeline, open_loops)
    list_notifications, list_deliveries      deliver_due(project): e-mail and webhooks
    param_history(session, pipeline, name=, limit=)
    start_run(session, pipeline_id, kind, input) -> run  step(session, run, name, input)
    finish_run(session, run, status, output, error)      list_runs, get_run -> (run, steps)
"""

from truthloop.pipeline.notify import (
    EVENTS,
    check_backlog,
    deliver_due,
    list_deliveries,
    list_notifications,
    list_subscribers,
    notify,
    subscribe,
    unsubscribe,
)
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
    "EVENTS",
    "TASKS",
    "ParamChange",
    "PipelineSpec",
    "RunKind",
    "RunStatus",
    "check_backlog",
    "create_pipeline",
    "deliver_due",
    "finish_run",
    "get_param",
    "get_params",
    "get_pipeline",
    "get_run",
    "list_deliveries",
    "list_notifications",
    "list_pipelines",
    "list_runs",
    "list_subscribers",
    "notify",
    "param_history",
    "set_deployed",
    "set_param",
    "start_run",
    "step",
    "subscribe",
    "unsubscribe",
]
