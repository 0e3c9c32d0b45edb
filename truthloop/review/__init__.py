"""Human review of a model's predictions (A2I): task templates, flow definitions, human loops,
their output and events.

    create_task_ui(session, name, template)          templates.preview(template, input, grant)
    create_flow(project, FlowSpec(...)) -> row       get_flow, list_flows, delete_flow, attach_model
    start_loop(project, LoopStart(...)) -> (row, new)
    stop_loop(project, name)  delete_loop(project, name)  list_loops(session, flow, ...)
    advance_loops(project)                           complete, expire and stop loops (background)
    submit_review(project, task_id, user_id, ...)    a reviewer's answer; completes the loop
    detect(project, version, images)                 detect; start loops where a flow says so
    export_flow(project, flow, dest)                 completed loops as a Ground Truth manifest
    add_webhook(session, url) -> (row, secret)       deliver_due(project): status changes, signed
"""

from truthloop.review.export import ReviewExport, export_flow
from truthloop.review.flows import (
    FlowSpec,
    FlowStatus,
    attach_model,
    create_flow,
    delete_flow,
    describe_flow,
    flow_description,
    flow_names,
    get_flow,
    list_flows,
)
from truthloop.review.listing import (
    LoopPage,
    describe_loop,
    list_loops,
    loop_counts,
    loop_description,
)
from truthloop.review.loops import (
    FailureCode,
    LoopStart,
    LoopStatus,
    advance_loops,
    complete_loop,
    delete_loop,
    get_loop,
    loop_output,
    parse_input,
    start_loop,
    stop_loop,
)
from truthloop.review.routing import DetectImage, detect
from truthloop.review.task_uis import create_task_ui, delete_task_ui, get_task_ui, list_task_uis
from truthloop.review.templates import preview, render_template
from truthloop.review.webhooks import (
    add_webhook,
    deliver_due,
    list_deliveries,
    list_webhooks,
    remove_webhook,
    verify_signature,
)
from truthloop.review.work import review_page, review_task, submit_review

__all__ = [
    "DetectImage",
    "FailureCode",
    "FlowSpec",
    "FlowStatus",
    "LoopPage",
    "LoopStart",
    "LoopStatus",
    "ReviewExport",
    "add_webhook",
    "advance_loops",
    "attach_model",
    "complete_loop",
    "create_flow",
    "create_task_ui",
    "delete_flow",
    "delete_loop",
    "delete_task_ui",
    "deliver_due",
    "describe_flow",
    "describe_loop",
    "detect",
    "export_flow",
    "flow_description",
    "flow_names",
    "get_flow",
    "get_loop",
    "get_task_ui",
    "list_deliveries",
    "list_flows",
    "list_loops",
    "list_task_uis",
    "list_webhooks",
    "loop_counts",
    "loop_description",
    "loop_output",
    "parse_input",
    "preview",
    "remove_webhook",
    "render_template",
    "review_page",
    "review_task",
    "start_loop",
    "stop_loop",
    "submit_review",
    "verify_signature",
]
