"""How a command finds its project: `--home`, else TRUTHLOOP_HOME, else ./truthloop-home."""

from __future__ import annotations

from pathlib import Path

import typer

from truthloop.storage.project import Project


def project_home(ctx: typer.Context) -> Path | None:
    root = ctx.find_root()
    return root.obj.get("home") if isinstance(root.obj, dict) else None


def open_project(ctx: typer.Context) -> Project:
    return Project.open(project_home(ctx))
