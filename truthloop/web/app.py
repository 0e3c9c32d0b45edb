"""The portal and its REST API: `create_app(project)` gives the FastAPI application
(`app_from_environment()` is the factory `truthloop serve` runs it with)."""

from __future__ import annotations

import re

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from truthloop.storage.project import Project
from truthloop.web import handlers
from truthloop.web.auth import SESSION_COOKIE, SESSION_MAX_AGE_S, csrf_protect, secret_key
from truthloop.web.middleware import BodyLimit, SecurityHeaders
from truthloop.web.routes import (
    account_pages,
    api_datasets,
    api_evaluation,
    api_imports,
    api_jobs,
    api_model_training,
    api_models,
    api_people,
    api_pipelines,
    api_review,
    api_tasks,
    auth_pages,
    evaluation_pages,
    feedback,
    import_pages,
    manager_pages,
    model_pages,
    pipeline_pages,
    review_pages,
    review_work,
    worker_pages,
)
from truthloop.web.templating import STATIC
from truthloop.web.text_fields import refuse_bad_text


def create_app(project: Project, *, https_only: bool = False) -> FastAPI:
    """The portal over `project`; `https_only` marks the session cookie Secure (behind TLS)."""
    app = FastAPIOffline(
        # ReDoc's bundle fetches its logo from a CDN; Swagger UI at /docs needs nothing outside.
        redoc_url=None,
        title="truthloop",
        summary="Label images with a model in the loop: labeling jobs, tasks, people.",
        # Every state-changing request made with the session cookie must echo its CSRF token,
        # and no URL parameter or form field may hold text the rule refuses (core.text).
        dependencies=[Depends(csrf_protect), Depends(refuse_bad_text)],
    )
    app.state.project = project
    # Routes are tried in this order, so the workers' task API, which nearly every request
    # calls, comes first (no other route's path overlaps it).
    for router in (
        api_tasks.router,
        review_work.router,
        auth_pages.router,
        worker_pages.router,
        # Before any /models/{version} route, which would take /models/compare for a version.
        api_evaluation.router,
        evaluation_pages.router,
        import_pages.router,  # before manager_pages, whose /datasets/{name} takes import
        manager_pages.router,
        account_pages.router,
        api_people.router,
        api_datasets.router,
        api_imports.router,
        api_jobs.router,
        api_model_training.router,
        api_models.router,
        feedback.router,
        api_review.router,
        review_pages.router,
        api_pipelines.router,
        pipeline_pages.router,
        model_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    handlers.install(app)
    # Added innermost first: the body limit and headers wrap everything, sessions included.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(project),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=https_only,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodyLimit,
        max_bytes=project.settings.max_request_bytes,
        upload_path=re.compile(api_imports.UPLOAD_PATH),
        max_upload_bytes=project.settings.max_upload_bytes,
    )
    return app


def app_from_environment() -> FastAPI:
    """The portal over the project that TRUTHLOOP_HOME and the other TRUTHLOOP_ settings name:
    how each worker process of `truthloop serve` builds its app."""
    project = Project.open()
    return create_app(project, https_only=project.settings.https_only)
