"""The main job on the embedded default: synthetic logos, imported into a local project."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from truthloop.datasets.importing import ImportReport, import_dataset
from truthloop.sim.logos import generate_logos
from truthloop.storage import datasets as store
from truthloop.storage.project import Project

DATASET = "demo-logos"


@dataclass(frozen=True)
class DemoResult:
    home: Path
    images_dir: Path
    report: ImportReport
    summary: store.DatasetSummary


def run_demo(
    home: Path,
    *,
    images: int = 60,
    classes: int = 4,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Generate `images` synthetic logo images, import them as a dataset and summarise it.

    Running it again starts the dataset afresh, so the demo can be repeated.
    """
    project = Project.init(home)
    try:
        data = project.home / "data" / "logos"
        generated = generate_logos(
            data,
            images=images,
            classes=classes,
            seed=seed,
            progress=(lambda n: progress("generating", n, images)) if progress else None,
        )
        with project.session() as session:
            old = store.find_dataset(session, DATASET)
            if old is not None:
                store.delete_dataset(session, old)
        report = import_dataset(
            project,
            DATASET,
            generated.manifest,
            fmt="groundtruth",
            verify_images=True,
            progress=(lambda n: progress("importing", n, images)) if progress else None,
        )
        with project.session() as session:
            summary = store.summarize(session, store.get_dataset(session, DATASET))
        return DemoResult(project.home, data, report, summary)
    finally:
        project.close()
