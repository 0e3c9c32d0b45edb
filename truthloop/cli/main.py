"""The `truthloop` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from truthloop.cli import bench, dataset, demo, feedback, job, model, people, serve, sim
from truthloop.cli.arguments import CheckedGroup
from truthloop.cli.output import console, errors_as_messages, print_json
from truthloop.storage.project import Project

app = typer.Typer(
    cls=CheckedGroup,  # every word of the command line passes the text rule (core.text)
    help="truthloop: label images with a model in the loop, offline.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(dataset.app, name="dataset")
app.add_typer(job.app, name="job")
app.add_typer(model.app, name="model")
app.add_typer(feedback.app, name="feedback")
app.add_typer(sim.app, name="sim")
app.add_typer(bench.app, name="bench")
app.add_typer(people.user_app, name="user")
app.add_typer(people.team_app, name="team")
app.command("serve")(serve.serve)
app.command("background")(serve.background)
app.command("demo")(demo.demo)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(envvar="TRUTHLOOP_HOME", help="Project home folder.", show_default=False),
    ] = None,
) -> None:
    ctx.obj = {"home": home}


@app.command()
def init(
    home: Annotated[Path, typer.Argument(help="Folder for the new project.")],
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a project: a folder with a SQLite database and a blob store."""
    with errors_as_messages(json_output):
        project = Project.init(home)
        info = {
            "home": str(project.home),
            "database": project.db.url,
            "blobs": project.blobs.url,
            "schema": project.db.current_revision(),
        }
        project.close()
    if json_output:
        print_json(info)
    else:
        console.print(Text(f"truthloop project ready in {info['home']}"))
        console.print(Text(f"  use it with: export TRUTHLOOP_HOME={info['home']}"))
