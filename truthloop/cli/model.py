"""`truthloop model ...`: train, evaluate, compare, list, start, stop, detect and export model
versions. Every command takes `--json`; that output is a stable interface."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from truthloop.cli.context import open_project
from truthloop.cli.output import (
    BackboneOption,
    JsonOption,
    console,
    err_console,
    errors_as_messages,
    print_json,
)
from truthloop.formats.images import decode
from truthloop.ml import registry, serving
from truthloop.ml.backend import Task, TrainProgress
from truthloop.ml.evaluate import Evaluation
from truthloop.ml.versions import ModelVersion
from truthloop.review.routing import DetectImage
from truthloop.review.routing import detect as review_detect
from truthloop.storage.project import Project

app = typer.Typer(
    help="Model versions: train, evaluate, compare, serve, detect, export.", no_args_is_help=True
)

VersionArgument = Annotated[str, typer.Argument(help="Model version, e.g. logos.v3.")]


@contextmanager
def _training_bar(quiet: bool) -> Iterator[Callable[[TrainProgress], None]]:
    """A live bar on stderr over every optimiser step, with the loss, then the phases after."""
    if quiet:
        yield lambda update: None
        return
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("preparing", total=None, loss="-")

        def update(p: TrainProgress) -> None:
            if p.steps:  # an optimiser step (of training, or of a refit on every image)
                bar.update(
                    task,
                    description=f"{p.phase} epoch {p.epoch}/{p.epochs}",
                    total=p.epochs * p.steps,
                    completed=(p.epoch - 1) * p.steps + p.step,
                    loss=f"{p.loss:.4f}",
                )
            else:  # a phase without steps: calibrate, evaluate
                bar.update(task, description=p.phase, loss=f"{p.loss:.4f}")

        yield update


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_version(version: ModelVersion) -> None:
    line = f"{version.name}  {version.task.value}  {version.status.value}"
    if version.f1 is not None:
        line += f"  F1 {version.f1:.3f}"
    console.print(Text(line))
    console.print(Text(f"  trained on {version.training_dataset}", style="dim"))
    report = version.training_report or {}
    if report:
        console.print(
            Text(
                f"  {report['images']} training images, {report['test_images']} test images"
                f" ({report['test']}), {report['seconds']:.1f} s",
                style="dim",
            )
        )
        for skipped in report["skipped"][:10]:
            console.print(Text(f"  skipped {skipped['uri']}: {skipped['reason']}", style="yellow"))
    if version.failure_reason:
        console.print(Text(f"  failed: {version.failure_reason}", style="red"))


def _print_evaluation(title: str, evaluation: Evaluation) -> None:
    table = Table("label", "threshold", "precision", "recall", "F1", "test images", title=title)
    for m in evaluation.per_label:
        table.add_row(
            Text(m.label),
            _number(m.threshold),
            _number(m.precision),
            _number(m.recall),
            _number(m.f1),
            str(m.testing_images),
        )
    console.print(table)
    line = (
        f"overall: F1 {evaluation.f1:.3f}, precision {evaluation.precision:.3f},"
        f" recall {evaluation.recall:.3f} on {evaluation.testing_images} images"
    )
    if evaluation.task is Task.DETECTION:
        line += f"; mAP@0.5 {_number(evaluation.map50)}, mAP {_number(evaluation.map)}"
    console.print(Text(line))
    for cell in evaluation.confusion or ():
        if cell.ground_truth != cell.predicted:
            console.print(
                Text(f"  {cell.count} {cell.ground_truth} taken for {cell.predicted}", style="dim")
            )
    for skipped in evaluation.skipped[:10]:
        console.print(Text(f"skipped {skipped.uri}: {skipped.reason}", style="yellow"))


@app.command("train")
def train(
    ctx: typer.Context,
    project_name: Annotated[str, typer.Argument(metavar="PROJECT", help="Model project.")],
    dataset: Annotated[str, typer.Option(help="Dataset to train on.")],
    task: Annotated[Task, typer.Option(help="What the model does.")],
    test_dataset: Annotated[
        str | None,
        typer.Option(help="Dataset to test on (default: hold out 20 % of the training images)."),
    ] = None,
    from_version: Annotated[
        str | None, typer.Option("--from", help="Version to start from (incremental training).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Epochs (default: chosen by dataset size).")
    ] = None,
    backbone: BackboneOption = None,
    json_output: JsonOption = False,
) -> None:
    """Train the next version of PROJECT on a dataset, and evaluate it."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        with _training_bar(json_output) as update:
            version = registry.train_version(
                project,
                project_name,
                dataset=dataset,
                task=task,
                test_dataset=test_dataset,
                from_version=from_version,
                epochs=epochs,
                progress=update,
                backbone=backbone,
            )
    if json_output:
        print_json(version.to_json())
    else:
        _print_version(version)


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    version: VersionArgument,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset to test on (default: the version's test set).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Per-label precision, recall and F1 at each label's assumed threshold (+ mAP)."""
    with errors_as_messages(json_output):
        evaluation = registry.evaluate_version(open_project(ctx), version, dataset)
    if json_output:
        print_json({"version": version, "dataset": dataset, **evaluation.to_json()})
    else:
        _print_evaluation(f"{version} on {dataset or 'its test set'}", evaluation)


@app.command("compare")
def compare(
    ctx: typer.Context,
    first: VersionArgument,
    second: VersionArgument,
    dataset: Annotated[str, typer.Option(help="Dataset both are tested on.")],
    json_output: JsonOption = False,
) -> None:
    """Evaluate two versions on the same dataset, side by side."""
    with errors_as_messages(json_output):
        comparison = registry.compare_versions(open_project(ctx), first, second, dataset)
    if json_output:
        print_json(comparison.to_json())
        return
    print_comparison(comparison)


def print_comparison(comparison: registry.Comparison) -> None:
    """Two versions' metrics side by side, with the change from the first to the second."""
    first, second = (v.name for v in comparison.versions)
    table = Table("metric", first, second, "change", title=f"on {comparison.dataset}")
    for metric, a, b in comparison.rows():
        change = "" if a is None or b is None else f"{b - a:+.3f}"
        table.add_row(Text(metric), _number(a), _number(b), change)
    console.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    project_name: Annotated[
        str | None, typer.Argument(metavar="[PROJECT]", help="Only this model project.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Model versions with their status and F1."""
    with errors_as_messages(json_output):
        versions = registry.list_versions(open_project(ctx), project_name)
    if json_output:
        print_json([v.to_json() for v in versions])
        return
    table = Table("version", "task", "status", "F1", "trained on", "from", "created")
    for v in versions:
        table.add_row(
            Text(v.name),
            v.task.value,
            v.status.value,
            _number(v.f1),
            Text(v.training_dataset),
            Text(v.parent or ""),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, version: VersionArgument, json_output: JsonOption = False) -> None:
    """One version: status, datasets, training report and failure reason."""
    with errors_as_messages(json_output):
        found = registry.get_version(open_project(ctx), version)
    if json_output:
        print_json(found.to_json())
    else:
        _print_version(found)


def _serve(
    ctx: typer.Context, action: Callable[[Project, str], ModelVersion], version: str, json: bool
) -> None:
    with errors_as_messages(json):
        found = action(open_project(ctx), version)
    if json:
        print_json(found.to_json())
    else:
        console.print(Text(f"{found.name} is {found.status.value}"))


@app.command("start")
def start(ctx: typer.Context, version: VersionArgument, json_output: JsonOption = False) -> None:
    """Mark a version RUNNING (it loads here to check it); servers and `detect` then use it."""
    _serve(ctx, serving.start_version, version, json_output)


@app.command("stop")
def stop(ctx: typer.Context, version: VersionArgument, json_output: JsonOption = False) -> None:
    """Mark a version STOPPED: detect calls on it are refused."""
    _serve(ctx, serving.stop_version, version, json_output)


def _read_image(project: Project, path: Path) -> DetectImage:
    # Read no further than the byte limit: a file over it is refused before it is all read.
    data = project.read_image_bytes(str(path), name=str(path))
    image = decode(
        data,
        max_bytes=project.settings.max_image_bytes,
        max_pixels=project.settings.max_image_pixels,
        name=str(path),
    )
    return DetectImage(image, data)


@app.command("detect")
def detect(
    ctx: typer.Context,
    version: VersionArgument,
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0, max=100, help="Lowest confidence (0-100); default: each label's threshold."
        ),
    ] = None,
    max_results: Annotated[
        int | None, typer.Option(min=1, help="At most this many labels per image.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Labels (and boxes) in IMAGES from a RUNNING version, as Rekognition's DetectCustomLabels."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        pictures = [_read_image(project, path) for path in images]
        answers = review_detect(
            project, version, pictures, min_confidence=min_confidence, max_results=max_results
        )
    results = [{"image": str(p), **a} for p, a in zip(images, answers, strict=True)]
    if json_output:
        print_json(results)
        return
    for result in results:
        console.print(Text(result["image"], style="bold"))
        if not result["CustomLabels"]:
            console.print(Text("  nothing found", style="dim"))
        for label in result["CustomLabels"]:
            where = ""
            if "Geometry" in label:
                b = label["Geometry"]["BoundingBox"]
                where = (
                    f"  left {b['Left']:.3f} top {b['Top']:.3f}"
                    f" width {b['Width']:.3f} height {b['Height']:.3f}"
                )
            console.print(Text(f"  {label['Name']}  {label['Confidence']:.1f}%{where}"))
        for started in _loops_started(result):
            console.print(
                Text(f"  sent to review: human loop {started['HumanLoopName']}", style="yellow")
            )


def _loops_started(result: dict[str, Any]) -> list[dict[str, Any]]:
    started = result.get("HumanLoopActivationOutput")
    return started if isinstance(started, list) else [started] if started else []


@app.command("export")
def export(
    ctx: typer.Context,
    version: VersionArgument,
    fmt: Annotated[str, typer.Option("--format", help="Export format (onnx).")] = "onnx",
    dest: Annotated[
        Path | None, typer.Option(help="File to write (default: VERSION.onnx here).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write a version's model to a file (ONNX, with its labels and calibration inside)."""
    with errors_as_messages(json_output):
        path = registry.export_version(
            open_project(ctx), version, fmt, dest or Path(f"{version}.{fmt}")
        )
    if json_output:
        print_json({"version": version, "format": fmt, "dest": str(path)})
    else:
        console.print(Text(f"wrote {version} to {path}"))
