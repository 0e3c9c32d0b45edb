"""The manager's pages: overview, datasets as thumbnail grids, jobs with live progress, teams
and worker quality. Forms post here; the work is done by the same services the API calls."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from truthloop import labeling, people
from truthloop.core import job_terms
from truthloop.core.types import Source, Split
from truthloop.errors import InputError
from truthloop.labeling.autolabel import autolabel_terms, iterations
from truthloop.labeling.instructions import render_instructions
from truthloop.labeling.start import start_job
from truthloop.storage import datasets as store
from truthloop.storage import gallery
from truthloop.web.charts import iteration_charts, label_chart
from truthloop.web.deps import ProjectDep, RequireManager, SessionDep
from truthloop.web.job_schemas import JobForm
from truthloop.web.routes.api_datasets import item_filter
from truthloop.web.templating import render
from truthloop.web.text_fields import Line, Text
from truthloop.web.views import percent, thumb

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 48
ROLES = (people.Role.WORKER, people.Role.MANAGER, people.Role.ADMIN)


@router.get("/overview")
def overview(request: Request, session: SessionDep, user: RequireManager) -> Response:
    jobs = [(job, labeling.job_progress(session, job.id)) for job in labeling.list_jobs(session)]
    return render(
        request, "overview.html", user,
        datasets=store.list_datasets(session), jobs=jobs, teams=people.list_teams(session),
        users=len(people.list_users(session)), percent=percent,
    )


@router.get("/datasets")
def datasets(request: Request, session: SessionDep, user: RequireManager) -> Response:
    return render(request, "datasets.html", user, datasets=store.list_datasets(session))


FILTER_FIELDS = ("split", "label", "source", "worker", "min_confidence", "max_confidence")
"""The dataset page's filter form fields, named as the items API's query parameters."""


def _page_filter(request: Request) -> tuple[gallery.ItemFilter, dict[str, str]]:
    """The filter the dataset page's form asks for, and the fields given. A form sends every
    field, an empty one meaning "any", so empty ones are dropped before the items API's own
    checks (item_filter) judge the rest."""
    given = {k: v for k in FILTER_FIELDS if (v := request.query_params.get(k, "").strip())}
    try:
        where = item_filter(
            split=Split(given["split"]) if "split" in given else None,
            label=given.get("label"),
            source=Source(given["source"]) if "source" in given else None,
            worker=given.get("worker"),
            min_confidence=_confidence(given, "min_confidence"),
            max_confidence=_confidence(given, "max_confidence"),
        )
    except ValueError as exc:
        raise InputError(f"the dataset page's filter: {exc}") from exc
    return where, given


def _confidence(given: dict[str, str], name: str) -> float | None:
    if name not in given:
        return None
    try:
        return float(given[name])
    except ValueError:
        raise InputError(f"{name} must be a number from 0 to 1, not {given[name]!r}") from None


@router.get("/datasets/{name}")
def dataset(
    request: Request,
    session: SessionDep,
    user: RequireManager,
    name: str,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    row = store.get_dataset(session, name)
    where, given = _page_filter(request)
    items, total = gallery.item_page(
        session, row.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, where=where
    )
    summary = store.summarize(session, row)
    return render(
        request, "dataset.html", user,
        dataset=row, summary=summary, thumbs=[thumb(i) for i in items],
        total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)), split=where.split,
        splits=list(Split), sources=list(Source), filters=given,
        pager_query="".join(f"&{k}={quote(v)}" for k, v in given.items()),
        label_chart=label_chart(
            {c.attribute: c.images_per_label for c in summary.attributes}, summary.labels
        ),
    )


@router.get("/jobs")
def jobs(request: Request, session: SessionDep, user: RequireManager) -> Response:
    rows = [(job, labeling.job_progress(session, job.id)) for job in labeling.list_jobs(session)]
    return render(
        request, "jobs.html", user, jobs=rows, percent=percent,
        datasets=store.list_datasets(session), teams=people.list_teams(session),
        task_types=list(labeling.TaskType), terms=job_terms, error=None, form={},
    )


@router.post("/jobs")
def create_job(
    project: ProjectDep,
    user: RequireManager,
    form: Annotated[JobForm, Form()],
) -> Response:
    body = form.to_create()
    job_id = start_job(project, body.to_spec(), body.auto_label_spec(), created_by=user.id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job(request: Request, session: SessionDep, user: RequireManager, job_id: int) -> Response:
    row = labeling.get_job(session, job_id)
    auto = autolabel_terms(session, row)
    rounds = iterations(session, row.id) if auto else []
    return render(
        request, "job.html", user,
        job=row, progress=labeling.job_progress(session, row.id), percent=percent,
        quality=labeling.worker_quality(session, row.id),
        instructions_html=render_instructions(row.instructions),
        auto=auto, iterations=rounds,
        charts=iteration_charts(rounds, auto.target_accuracy) if rounds and auto else None,
    )


@router.post("/jobs/{job_id}/cancel")
def cancel_job(session: SessionDep, _: RequireManager, job_id: int) -> Response:
    labeling.cancel_job(session, job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/teams")
def teams(request: Request, session: SessionDep, user: RequireManager) -> Response:
    return render(request, "teams.html", user, teams=people.list_teams(session))


@router.post("/teams")
def add_team(
    session: SessionDep,
    _: RequireManager,
    name: Annotated[Line, Form(max_length=128)],
    description: Annotated[Text, Form(max_length=4000)] = "",
) -> Response:
    team = people.add_team(session, name.strip(), description)
    return RedirectResponse(f"/teams/{team.name}", status_code=303)


@router.get("/teams/{name}")
def team(request: Request, session: SessionDep, user: RequireManager, name: str) -> Response:
    row = people.get_team(session, name)
    members = people.members_of(session, row.id)
    ids = {m.id for m in members}
    quality = [q for q in labeling.worker_quality(session, None) if q.user_id in ids]
    return render(
        request, "team.html", user, team=row, members=members, quality=quality,
        users=people.list_users(session),
    )


@router.post("/teams/{name}/members")
def add_member(
    session: SessionDep,
    _: RequireManager,
    name: str,
    username: Annotated[Line, Form(max_length=128)],
) -> Response:
    people.add_member(session, name, username)
    return RedirectResponse(f"/teams/{name}", status_code=303)


@router.get("/workers")
def workers(request: Request, session: SessionDep, user: RequireManager) -> Response:
    return render(
        request, "workers.html", user, quality=labeling.worker_quality(session, None),
        users=people.list_users(session), roles=ROLES, invitation=None,
    )


@router.post("/users")
def add_user(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    user: RequireManager,
    username: Annotated[Line, Form(max_length=128)],
    role: Annotated[people.Role, Form()] = people.Role.WORKER,
    email: Annotated[Line, Form(max_length=256)] = "",
    display_name: Annotated[Line, Form(max_length=256)] = "",
) -> Response:
    people.check_may_add(user, role)
    added = people.add_user(
        session, username.strip(), password=None, role=role, email=email or None,
        display_name=display_name,
    )
    link = people.invite(
        session, added, base_url=project.settings.base_url,
        mailer=people.Mailer.from_settings(project.settings),
    )
    return render(
        request, "workers.html", user, quality=labeling.worker_quality(session, None),
        users=people.list_users(session), roles=ROLES,
        invitation=(added.username, link),
    )
