"""`truthloop sim ...`: synthetic datasets for trying truthloop without data of one's own."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from truthloop.cli.output import console, errors_as_messages, print_json, progress_bar
from truthloop.sim.logo_recipes import RECIPES
from truthloop.sim.logos import generate_logos

app = typer.Typer(help="Generate synthetic labeled datasets.", no_args_is_help=True)


class LogoMode(StrEnum):
    detection = "detection"
    classification = "classification"


@app.command()
def logos(
    dest: Annotated[Path, typer.Argument(help="Folder for images/ and output.manifest.")],
    images: Annotated[int, typer.Option(min=0, help="Images to generate.")] = 100,
    classes: Annotated[int, typer.Option(min=1, max=len(RECIPES), help="Logo classes to use.")] = 3,
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same images.")] = 0,
    mode: Annotated[
        LogoMode, typer.Option(help="Boxes around 0+ logos, or one large logo per image.")
    ] = LogoMode.detection,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 320,
    max_objects: Annotated[int, typer.Option(min=1, help="Most logos in one image.")] = 4,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON.")
    ] = False,
) -> None:
    """Synthetic brand-like logos on busy backgrounds, as a Ground Truth output manifest."""
    with (
        errors_as_messages(json_output),
        progress_bar("generating", images, quiet=json_output) as update,
    ):
        dataset = generate_logos(
            dest,
            images=images,
            classes=classes,
            seed=seed,
            mode=mode.value,
            size=size,
            max_objects=max_objects,
            progress=update,
        )
    if json_output:
        print_json(
            {
                "manifest": str(dataset.manifest),
                "images": dataset.images,
                "objects": dataset.objects,
                "classes": list(dataset.classes),
            }
        )
        return
    console.print(
        Text(
            f"{dataset.images} images with {dataset.objects} logos of "
            f"{len(dataset.classes)} classes ({', '.join(dataset.classes)})"
        )
    )
    console.print(Text(f"  manifest: {dataset.manifest}"))
