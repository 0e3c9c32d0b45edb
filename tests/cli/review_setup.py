"""A task UI and a review flow made through `truthloop review`, as a user makes them: what the
review and pipeline command tests start from."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from truthloop.cli.main import app
from truthloop.review.templates import EXAMPLE_TEMPLATE

runner = CliRunner()


def review(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), "review", *args], catch_exceptions=False)


def make_flow(home: Path, folder: Path, name: str, title: str) -> str:
    """Task UI `boxes-ui` (A2I's example template) and flow `name` for team `reviewers`,
    writing under `review-output`; the flow's name."""
    template = folder / "boxes.liquid"
    template.write_text(EXAMPLE_TEMPLATE, encoding="utf-8")
    assert review(home, "ui", "create", "boxes-ui", str(template)).exit_code == 0
    created = review(
        home, "flow", "create", name, "--team", "reviewers", "--ui", "boxes-ui",
        "--title", title, "--output", "review-output",
    )
    assert created.exit_code == 0, created.output
    return name
