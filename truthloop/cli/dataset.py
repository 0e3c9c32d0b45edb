"""`truthloop dataset ...`: import, export, list, show and delete datasets."""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from truthloop.cli.context import open_project
from truthloop.cli.output import JsonOption, console, errors_as_messages, print_json, progress_bar
from truthloop.core.types import Split
from truthloop.storage import datasets as store

app = typer.Typer(help="Import, export and inspect datasets.", no_args_is_help=True)


class ReadFormat(StrEnum):
    folders = "folders"
    groundtruth = "groundtruth"
    rekognition = "rekognition"
    coco = "coco"
    voc = "voc"
    yolo = "yolo"
    a2i = "a2i"


class WriteFormat(StrEnum):
    groundtruth = "groundtruth"
    rekognition = "rekognition"
    coco = "coco"
    voc = "voc"
    yolo = "yolo"


class OnError(StrEnum):
    abort = "abort"
    skip = "skip"




def _count_lines(path: Path) -> int | None:
    if not path.is_file() or path.suffix.lower() == ".json":
        return None
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


@app.command("import")
def import_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset to create or add to.")],
    source: Annotated[
        str,
        typer.Argument(
            help="Manifest, annotation file or folder; or s3://bucket/prefix (--format folders,"
            " inside TRUTHLOOP_ALLOWED_S3_PREFIXES)."
        ),
    ],
    fmt: Annotated[ReadFormat, typer.Option("--format", "-f", help="Format of SOURCE.")],
    label_attribute: Annotated[
        str | None, typer.Option(help="Manifest label attribute to read (default: all).")
    ] = None,
    on_error: Annotated[
        OnError, typer.Option(help="abort: store nothing on a bad line; skip: store the rest.")
    ] = OnError.abort,
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy images into the project's blob store.")
    ] = False,
    verify_images: Annotated[
        bool, typer.Option("--verify-images", help="Open every image: size, hash, corruption.")
    ] = False,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option("--allow-root", help="Another folder images may be read from (repeatable)."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(help="Fixed label set, comma-separated: other labels are refused."),
    ] = None,
    split: Annotated[
        Split | None, typer.Option(help="Put every imported item in this split.")
    ] = None,
    image_root: Annotated[
        Path | None,
        typer.Option(help="COCO: the folder file names are relative to (default: the JSON's)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Import SOURCE into dataset NAME."""
    from truthloop.datasets.importing import import_dataset  # the readers: only when they read
    from truthloop.formats.paths import is_s3_source

    # Kept a str: a Path would fold the URI's '//' into one.
    where: Path | str = source if is_s3_source(source) else Path(source)
    with errors_as_messages(json_output):
        project = open_project(ctx)
        lines = _count_lines(where) if isinstance(where, Path) else None
        shown = where.name if isinstance(where, Path) else where
        with progress_bar(f"importing {shown}", lines, quiet=json_output) as update:
            report = import_dataset(
                project,
                name,
                where,
                fmt=fmt.value,
                label_attribute=label_attribute,
                on_error=on_error.value,
                copy=copy,
                verify_images=verify_images,
                allowed_roots=allow_root or (),
                labels=[x.strip() for x in labels.split(",") if x.strip()] if labels else None,
                split=split,
                image_root=image_root,
                progress=update,
            )
    if json_output:
        print_json(report.to_json())
        return
    verb = "created" if report.created else "added to"
    console.print(
        Text(
            f"{verb} dataset {report.dataset}: {report.imported} images imported"
            f"{f', {report.copied} copied' if report.copied else ''}"
        )
    )
    if report.unopened:
        console.print(
            Text(
                f"{report.unopened} images were not opened: one that is corrupt or over the size"
                " limits shows when it is first viewed or trained on (--verify-images opens each"
                " now)",
                style="yellow",
            )
        )
    for warning in report.warnings[:20]:
        console.print(Text(f"warning: {warning}", style="yellow"))
    if len(report.warnings) > 20:
        console.print(Text(f"... and {len(report.warnings) - 20} more warnings", style="yellow"))
    if report.skipped:
        console.print(Text(f"skipped {len(report.skipped)} bad records:", style="red"))
        for error in report.skipped[:20]:
            console.print(Text(f"  {error}"))
        if len(report.skipped) > 20:
            console.print(Text(f"  ... and {len(report.skipped) - 20} more (see --json)"))


@app.command("export")
def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset to export.")],
    dest: Annotated[Path, typer.Argument(help="File (manifests, COCO) or folder (VOC, YOLO).")],
    fmt: Annotated[WriteFormat, typer.Option("--format", "-f", help="Format to write.")],
    label_attribute: Annotated[
        str | None, typer.Option(help="Label attribute name for manifests.")
    ] = None,
    split: Annotated[Split | None, typer.Option(help="Export only this split.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Export dataset NAME to DEST."""
    from truthloop.datasets.exporting import export_dataset  # the writers: only when they write

    with errors_as_messages(json_output):
        project = open_project(ctx)
        with project.session() as session:
            total = store.count_items(session, store.get_dataset(session, name).id)
        with progress_bar(f"exporting {name}", total, quiet=json_output) as update:
            report = export_dataset(
                project,
                name,
                dest,
                fmt=fmt.value,
                label_attribute=label_attribute,
                split=split,
                progress=update,
            )
    if json_output:
        print_json(report.to_json())
    else:
        console.print(Text(f"wrote {report.exported} images of {name} to {report.dest}"))


@app.command("list")
def list_(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the datasets of the project."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        with project.session() as session:
            rows = [(d.name, n, d.created_at) for d, n in store.list_datasets(session)]
    if json_output:
        print_json([{"name": n, "items": c, "created_at": t.isoformat()} for n, c, t in rows])
        return
    table = Table("dataset", "images", "created")
    for name, count, created in rows:
        table.add_row(Text(name), str(count), created.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset to describe.")],
    json_output: JsonOption = False,
) -> None:
    """Counts per label and per split."""
    with errors_as_messages(json_output):
        project = open_project(ctx)
        with project.session() as session:
            summary = store.summarize(session, store.get_dataset(session, name))
    if json_output:
        print_json(summary_json(summary))
        return
    console.print(
        Text(f"{summary.name}: {summary.items} images, {summary.annotations} annotations")
    )
    for table in label_tables(summary):
        console.print(table)
    splits = Table("split", "images", title="per split")
    for split_name, count in sorted(summary.items_per_split.items()):
        splits.add_row(split_name, str(count))
    console.print(splits)
    if summary.sources:
        console.print(
            Text(
                "annotations by source: "
                + ", ".join(f"{k} {v}" for k, v in sorted(summary.sources.items()))
            )
        )


def summary_json(summary: store.DatasetSummary) -> dict[str, object]:
    """`dataset show --json`: the counts, per label attribute."""
    return {
        "name": summary.name,
        "items": summary.items,
        "annotations": summary.annotations,
        "labels": list(summary.labels),
        "attributes": [asdict(counts) for counts in summary.attributes],
        "items_per_split": summary.items_per_split,
        "sources": summary.sources,
    }


def label_tables(summary: store.DatasetSummary) -> list[Table]:
    """A table per label attribute: the images and objects of each label, with a bar."""
    tables = []
    for counts in summary.attributes:
        by = ", ".join(f"{n} by {source}" for source, n in counts.sources.items())
        name = counts.attribute or "no attribute"
        table = Table(title=Text(f"{name}: {counts.images} images labeled ({by})"))
        table.add_column("label", overflow="fold")
        table.add_column("images", no_wrap=True)
        table.add_column("objects", justify="right")
        widest = max(counts.images_per_label.values(), default=0)
        for label in dict.fromkeys((*summary.labels, *counts.images_per_label)):
            images = counts.images_per_label.get(label, 0)
            bar = "█" * round(12 * images / widest) if widest else ""
            objects = counts.objects_per_label.get(label, 0)
            table.add_row(Text(label), f"{images} {bar}", str(objects))
        tables.append(table)
    return tables


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete a dataset and its annotations (images themselves are left where they are)."""
    with errors_as_messages(json_output):
        if not yes and not typer.confirm(f"delete dataset {name}?"):
            raise typer.Exit(1)
        project = open_project(ctx)
        with project.session() as session:
            store.delete_dataset(session, store.get_dataset(session, name))
    if json_output:
        print_json({"deleted": name})
    else:
        console.print(Text(f"deleted dataset {name}"))
