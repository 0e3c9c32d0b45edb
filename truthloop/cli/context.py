"""How a command finds its project: `--home`, else TRUTHLOOP_HOME, else ./truthloop-home."""

from __future__ import annotations

from pathlib import Path

import typer

from truthloop.storage.project import Project

CLI_USER: int | None = None
"""Who the command line's writes are recorded as: no one, since it has no signed-in user."""


def project_home(ctx: typer.Context) -> Path | None:
    root = ctx.find_root()
    return root.obj.get("home") if isinstance(root.obj, dict) else None


def open_project(ctx: typer.Context) -> Project:
    """The command's project, closed when the command ends (however it ends).

    Every command opens its project here, and only here, so none can leave the database
    engine open.
    """
    project = Project.open(project_home(ctx))
    ctx.call_on_close(project.close)
    return project
