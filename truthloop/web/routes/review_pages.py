"""The managers' pages for human review (A2I): flows with their loops counted by status, a
flow's terms and loops, a loop with its reviewers' answers drawn on its image, task UI
previews, and webhooks with their recent deliveries. Read-only: flows, loops and webhooks are
made through the API and the CLI; the preview form posts, but stores nothing.

How a loop's answers are drawn: the page holds one inline SVG per answer, rendered here, whose
viewBox is the image as the reviewer's page measured it (`inputImageProperties`); the image
is an `<image>` stretched over that box and every box is a `<rect>` in image pixels, so the
browser scales image and boxes alike and no script runs. The model's boxes (the input's
`initialValue`, as detect-started loops carry them and EXAMPLE_TEMPLATE reads them) are drawn
dashed in another colour over each answer. The image comes from
`/review/loops/{name}/image`, which reads the input's `taskObject` only where a reviewer's
page may (`check_grant_target`: an `s3://` object or a file inside the project home or the
allowed roots).

A preview renders the template for a sample input with a grant that signs nothing: every
`grant_read_access` gives PLACEHOLDER_IMAGE (after the same check a task page makes, so a URI a
reviewer's page would refuse is reported). The page is shown in an iframe with `srcdoc` and
`sandbox=""`: no script runs in it (Crowd HTML Elements included, so custom elements show as
their static markup), it has an opaque origin, and it inherits the portal's CSP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from truthloop.errors import InputError, NotFound, TruthloopError
from truthloop.formats.a2i import HumanAnswer
from truthloop.formats.images import probe
from truthloop.review import (
    LoopStatus,
    get_flow,
    get_loop,
    get_task_ui,
    list_deliveries,
    list_flows,
    list_loops,
    list_task_uis,
    list_webhooks,
    preview,
)
from truthloop.review.events import events_by_id
from truthloop.review.flows import flow_names
from truthloop.review.listing import loop_counts
from truthloop.review.loops import loop_answers, parse_input
from truthloop.review.work import check_grant_target
from truthloop.storage.project import Project
from truthloop.storage.tables import (
    FlowDefinitionRow,
    HumanTaskUiRow,
    TeamRow,
    UserRow,
)
from truthloop.web.deps import ProjectDep, RequireManager, SessionDep
from truthloop.web.handlers import public_message
from truthloop.web.images import image_response
from truthloop.web.templating import render
from truthloop.web.text_fields import Text
from truthloop.web.views import percent

router = APIRouter(include_in_schema=False)

LOOP_PAGE_SIZE = 50
STATUS_ORDER = (
    LoopStatus.IN_PROGRESS,
    LoopStatus.COMPLETED,
    LoopStatus.FAILED,
    LoopStatus.STOPPED,
    LoopStatus.STOPPING,
)
MODEL_BOX_KEYS = ("initialValue",)
"""Input keys that may hold the model's boxes, in the order they are looked for."""

PLACEHOLDER_IMAGE = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240">'
    '<rect width="320" height="240" fill="#d0d5dd"/>'
    '<text x="160" y="125" font-size="16" text-anchor="middle" fill="#475467">'
    "image (preview)</text></svg>"
)
"""What `grant_read_access` gives in a preview: a grey picture, never a signed link."""

SAMPLE_BOXES = [
    {"label": "cat", "left": 40, "top": 30, "width": 120, "height": 90},
    {"label": "dog", "left": 180, "top": 60, "width": 100, "height": 140},
]
SAMPLE_INPUT: dict[str, Any] = {
    "taskObject": "s3://example-bucket/images/pet.jpg",
    "labels": ["cat", "dog"],
    "initialValue": SAMPLE_BOXES,
    "instructions": "Move or delete the boxes that are wrong; draw the ones missing.",
}


def pretty(value: object) -> str:
    """JSON text for a person to read (the page escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


# /review: flows and task UIs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowSummary:
    flow: FlowDefinitionRow
    team: str
    task_ui: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _team_name(session: Session, team_id: int) -> str:
    team = session.get(TeamRow, team_id)
    return team.name if team is not None else f"team {team_id}"


def _ui_name(session: Session, ui_id: int) -> str:
    ui = session.get(HumanTaskUiRow, ui_id)
    return ui.name if ui is not None else f"task UI {ui_id}"


@router.get("/review")
def review(request: Request, session: SessionDep, user: RequireManager) -> Response:
    counts = loop_counts(session)
    flows = [
        FlowSummary(
            flow,
            _team_name(session, flow.team_id),
            _ui_name(session, flow.ui_id),
            counts.get(flow.id, {}),
        )
        for flow in list_flows(session)
    ]
    uses: dict[str, list[str]] = {}
    for summary in flows:
        uses.setdefault(summary.task_ui, []).append(summary.flow.name)
    return render(
        request,
        "review_flows.html",
        user,
        flows=flows,
        statuses=[s.value for s in STATUS_ORDER],
        percent=percent,
        task_uis=list_task_uis(session),
        uses=uses,
    )


# /review/flows/{name}: terms and loops -------------------------------------------------------


@router.get("/review/flows/{name}")
def flow_page(
    request: Request,
    session: SessionDep,
    user: RequireManager,
    name: str,
    status: str = "",
    next_token: str = "",
) -> Response:
    flow = get_flow(session, name)
    if status and status not in set(LoopStatus):
        raise InputError(f"no loop status {status!r}; statuses: {', '.join(LoopStatus)}")
    page = list_loops(
        session,
        name,
        status=status or None,
        max_results=LOOP_PAGE_SIZE,
        next_token=next_token or None,
    )
    return render(
        request,
        "review_flow.html",
        user,
        flow=flow,
        team=_team_name(session, flow.team_id),
        task_ui=_ui_name(session, flow.ui_id),
        conditions=pretty(flow.conditions) if flow.conditions is not None else None,
        counts=loop_counts(session).get(flow.id, {}),
        loops=page.loops,
        next_token=page.next_token,
        status=status,
        continued=bool(next_token),
        statuses=[s.value for s in STATUS_ORDER],
    )


# /review/loops/{name}: one loop, its answers drawn on its image ------------------------------


@dataclass(frozen=True, slots=True)
class DrawnBox:
    label: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Drawing:
    """An image `width` x `height` (as the reviewer's page measured it) and boxes on it."""

    width: float
    height: float
    boxes: tuple[DrawnBox, ...]
    model: tuple[DrawnBox, ...]
    skipped: int = 0

    @property
    def font_size(self) -> float:
        return round(max(self.width, self.height) / 32, 1)


@dataclass(frozen=True, slots=True)
class AnswerView:
    answer: HumanAnswer
    drawings: list[tuple[str, Drawing | None, str | None]]
    """Per crowd-bounding-box element: its name, the drawing (None when it cannot be drawn:
    no image, or no size), and its output as text when it is not drawn."""
    others: list[tuple[str, str]]
    """Every other element of the form (a classifier's label...): its name and its output."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _boxes(value: object) -> tuple[tuple[DrawnBox, ...], int] | None:
    """Boxes in crowd-bounding-box's shape, and how many entries were not boxes; None when
    `value` is not a list."""
    if not isinstance(value, list):
        return None
    boxes, skipped = [], 0
    for entry in value:
        numbers = (
            [_number(entry.get(k)) for k in ("left", "top", "width", "height")]
            if isinstance(entry, Mapping)
            else [None]
        )
        if any(n is None for n in numbers) or not isinstance(entry, Mapping):
            skipped += 1
            continue
        label = entry.get("label")
        left, top, width, height = (n or 0.0 for n in numbers)
        boxes.append(
            DrawnBox(
                label if isinstance(label, str) else "",
                left,
                top,
                max(width, 0.0),
                max(height, 0.0),
            )
        )
    return tuple(boxes), skipped


def _size(properties: object) -> tuple[float, float] | None:
    if not isinstance(properties, Mapping):
        return None
    width, height = _number(properties.get("width")), _number(properties.get("height"))
    if width is None or height is None or width <= 0 or height <= 0:
        return None
    return width, height


def _model_boxes(task_input: Mapping[str, Any]) -> tuple[str, tuple[DrawnBox, ...]] | None:
    for key in MODEL_BOX_KEYS:
        found = _boxes(task_input.get(key))
        if found is not None and found[0]:
            return key, found[0]
    return None


def _task_object(input_content: str) -> object:
    try:
        task_input = orjson.loads(input_content)
    except orjson.JSONDecodeError:
        return None
    return task_input.get("taskObject") if isinstance(task_input, dict) else None


def _image_problem(project: Project, uri: object) -> str | None:
    """Why the portal does not show `uri` as the loop's image, or None when it does."""
    if not isinstance(uri, str) or not uri:
        return "its input has no taskObject"
    try:
        check_grant_target(project, uri)
    except InputError:
        return (
            "its taskObject is neither an s3:// object nor a file inside the project home or"
            " the allowed roots, so the portal does not read it"
        )
    return None


def _probed_size(project: Project, uri: str, loop: str) -> tuple[float, float] | None:
    """The image's size read from its header, for drawing the model's boxes on a loop nobody
    answered yet (an answer carries the size its page measured)."""
    try:
        info = probe(
            project.read_image_bytes(uri, f"human loop {loop}'s image"),
            max_pixels=project.settings.max_image_pixels,
            max_bytes=project.settings.max_image_bytes,
            name=f"human loop {loop}'s image",
        )
    except TruthloopError:
        return None
    return float(info.size.width), float(info.size.height)


def _answer_view(answer: HumanAnswer, model: tuple[DrawnBox, ...], has_image: bool) -> AnswerView:
    drawings: list[tuple[str, Drawing | None, str | None]] = []
    others: list[tuple[str, str]] = []
    for element, output in answer.content.items():
        found = _boxes(output.get("boundingBoxes")) if isinstance(output, Mapping) else None
        if found is None:
            others.append((str(element), _answer_text(output)))
            continue
        size = _size(output.get("inputImageProperties")) if isinstance(output, Mapping) else None
        if size is None or not has_image:
            drawings.append((str(element), None, pretty(output)))
            continue
        boxes, skipped = found
        drawings.append((str(element), Drawing(size[0], size[1], boxes, model, skipped), None))
    return AnswerView(answer, drawings, others)


def _answer_text(output: object) -> str:
    """A classifier's `{"label": "cat"}` as `cat`; anything else as JSON."""
    if (
        isinstance(output, Mapping)
        and set(output) == {"label"}
        and isinstance(output["label"], str)
    ):
        return output["label"]
    if isinstance(output, str):
        return output
    return pretty(output)


@router.get("/review/loops/{name}")
def loop_page(
    request: Request, project: ProjectDep, session: SessionDep, user: RequireManager, name: str
) -> Response:
    loop = get_loop(session, name)
    flow = session.get_one(FlowDefinitionRow, loop.flow_id)
    try:
        task_input: dict[str, Any] | None = parse_input(loop.input_content)
        input_text = pretty(task_input)
    except InputError:  # stored as given; shown as it is
        task_input, input_text = None, loop.input_content
    uri = task_input.get("taskObject") if task_input is not None else None
    image_problem = _image_problem(project, uri)
    model = _model_boxes(task_input) if task_input is not None else None
    answers = [
        _answer_view(a, model[1] if model else (), image_problem is None)
        for a in loop_answers(session, flow, loop)
    ]
    # The model's boxes are drawn over each answer's boxes; alone only when no answer is drawn.
    drawn = any(d is not None for a in answers for _, d, _ in a.drawings)
    model_drawing = None
    if model is not None and image_problem is None and isinstance(uri, str) and not drawn:
        size = _probed_size(project, uri, name)
        if size is not None:
            model_drawing = Drawing(size[0], size[1], (), model[1])
    return render(
        request,
        "review_loop.html",
        user,
        loop=loop,
        flow=flow,
        input_text=input_text,
        task_object=uri,
        image_problem=image_problem,
        image_url=f"/review/loops/{quote(name)}/image",
        activation=pretty(loop.activation) if loop.activation is not None else None,
        data_attributes=pretty(loop.data_attributes) if loop.data_attributes else None,
        answers=answers,
        model_key=model[0] if model else None,
        model_drawing=model_drawing,
    )


@router.get("/review/loops/{name}/image")
def loop_image(project: ProjectDep, _: RequireManager, name: str) -> Response:
    """The loop's `taskObject`, for its page: only an `s3://` object or a file inside the
    project home or the allowed roots, as a reviewer's page may show."""
    with project.db.read_session() as session:
        input_content = get_loop(session, name).input_content
    uri = _task_object(input_content)
    if _image_problem(project, uri) is not None or not isinstance(uri, str):
        raise NotFound(f"human loop {name!r} has no image the portal may show")
    return image_response(project, uri, name=f"human loop {name}'s image")


# /review/task-uis/{name}/preview -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreviewResult:
    html: str
    errors: list[str]
    warnings: list[str]


def _preview(project: Project, template: str, sample: str) -> PreviewResult:
    try:
        task_input = parse_input(sample)
    except InputError as error:
        return PreviewResult("", [f"sample input: {error}"], [])

    def placeholder(uri: str) -> str:
        check_grant_target(project, uri)  # refused as a reviewer's page would refuse it
        return PLACEHOLDER_IMAGE

    rendered = preview(template, task_input, placeholder)
    problems = [public_message(e) for e in rendered.errors]
    warnings = [p for p in problems if p.startswith("warning:") or "renders as nothing" in p]
    return PreviewResult(
        rendered.rendered_content, [p for p in problems if p not in warnings], warnings
    )


def _preview_page(
    request: Request,
    project: Project,
    user: UserRow,
    ui: HumanTaskUiRow,
    template: str,
    sample: str,
) -> Response:
    return render(
        request,
        "review_preview.html",
        user,
        ui=ui,
        template_text=template,
        edited=template != ui.template,
        sample=sample,
        result=_preview(project, template, sample),
    )


@router.get("/review/task-uis/{name}/preview")
def task_ui_preview(
    request: Request, project: ProjectDep, session: SessionDep, user: RequireManager, name: str
) -> Response:
    ui = get_task_ui(session, name)
    return _preview_page(request, project, user, ui, ui.template, pretty(SAMPLE_INPUT))


@router.post("/review/task-uis/{name}/preview")
def task_ui_preview_posted(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    user: RequireManager,
    name: str,
    sample: Annotated[Text, Form()],
    template: Annotated[Text | None, Form()] = None,
) -> Response:
    """The preview for the posted sample input, and the posted template when one is given
    (an edit to try out; nothing is stored)."""
    ui = get_task_ui(session, name)
    return _preview_page(
        request, project, user, ui, ui.template if template is None else template, sample
    )


# /review/webhooks ----------------------------------------------------------------------------


@router.get("/review/webhooks")
def webhooks(request: Request, session: SessionDep, user: RequireManager) -> Response:
    hooks = list_webhooks(session)
    deliveries = list_deliveries(session, limit=100)
    events = events_by_id(session, (d.event_id for d in deliveries))
    names = flow_names(session)
    return render(
        request,
        "review_webhooks.html",
        user,
        hooks=hooks,
        deliveries=deliveries,
        events=events,
        flow_names=names,
        urls={h.id: h.url for h in hooks},
    )
