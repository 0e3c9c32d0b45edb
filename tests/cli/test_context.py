"""Every command that opens the project closes it when it ends, however it ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from truthloop.cli.main import app
from truthloop.storage.project import Project

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["dataset", "list"], 0),  # ends well
        (["dataset", "show", "nothing-here"], 1),  # ends in a user error
        (["model", "list", "--json"], 0),  # a command that uses the project as an argument
        (["user", "list"], 0),  # one that also uses it as a context manager
    ],
)
def test_the_project_is_closed_when_the_command_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], exit_code: int
) -> None:
    home = tmp_path / "home"
    Project.init(home).close()
    opened: list[Project] = []
    closed: list[Project] = []
    real_open, real_close = Project.open, Project.close

    def spy_open(home: Path | str | None = None, **overrides: object) -> Project:
        project = real_open(home, **overrides)
        opened.append(project)
        return project

    def spy_close(self: Project) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(Project, "open", staticmethod(spy_open))
    monkeypatch.setattr(Project, "close", spy_close)
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == exit_code, result.output
    assert opened
    assert all(project in closed for project in opened)
