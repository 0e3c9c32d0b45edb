"""The main job on the embedded default: synthetic logos imported into a local project, then
labeled afresh by a whole automated-labeling job with simulated workers, beside what labeling
them all by hand would have cost; and a manager to sign in to the portal as."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from truthloop.datasets.importing import ImportReport, import_dataset
from truthloop.labeling.autolabel import AutoLabelSpec
from truthloop.people import Role, add_user, set_password
from truthloop.sim.logos import generate_logos
from truthloop.sim.loop_bench import LoopResult, run_loop
from truthloop.storage import datasets as store
from truthloop.storage.project import Project
from truthloop.storage.tables import UserRow

DATASET = "demo-logos"
JOB = "demo-logos-auto"
MANAGER = "demo-manager"
# Small images keep a whole job within a few minutes on two CPU cores: a classification image
# holds one large logo, which 64 pixels show well enough. The demo's logos are drawn, not
# photographed: the small scratch backbone learns them as well as the pretrained one does, in a
# fraction of the time (the pretrained one is what a user's photos get by default).
IMAGE_SIZE = {"classification": 64, "detection": 320}
MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "classification": {"image_size": 64, "backbone": "scratch"},
    "detection": {"backbone": "scratch"},
}


@dataclass(frozen=True)
class DemoResult:
    home: Path
    images_dir: Path
    report: ImportReport
    summary: store.DatasetSummary
    loop: LoopResult
    manager: str
    password: str


def _manager(project: Project) -> str:
    """A fresh password for the demo's manager (created on the first run)."""
    password = secrets.token_urlsafe(12)
    with project.session() as session:
        user = session.scalar(select(UserRow).where(UserRow.username == MANAGER))
        if user is None:
            add_user(session, MANAGER, password=password, role=Role.MANAGER)
        else:
            set_password(session, user, password)
    return password


def run_demo(
    home: Path,
    *,
    images: int = 500,
    classes: int = 3,
    seed: int = 0,
    task: str = "classification",
    train_passes: int = 1000,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Generate `images` synthetic logo images, import them, label them again with automated
    labeling and simulated workers, and make a manager to browse the job with.

    Running it again starts the dataset (and its jobs) afresh, so the demo can be repeated.
    """
    project = Project.init(home)
    try:
        data = project.home / "data" / "logos"
        generated = generate_logos(
            data,
            images=images,
            classes=classes,
            seed=seed,
            mode="classification" if task == "classification" else "detection",
            size=IMAGE_SIZE.get(task, 320),
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
        if progress:
            progress("labeling (people and the model)", 0, 1)
        loop = run_loop(
            project,
            DATASET,
            task,
            job_name=JOB,
            auto=AutoLabelSpec(
                train_passes=train_passes, seed=seed, backend_params=MODEL_PARAMS.get(task)
            ),
            seed=seed,
        )
        if progress:
            progress("labeling (people and the model)", 1, 1)
        with project.session() as session:
            summary = store.summarize(session, store.get_dataset(session, DATASET))
        return DemoResult(project.home, data, report, summary, loop, MANAGER, _manager(project))
    finally:
        project.close()
