"""A model that improves itself while it is used (issue 20): the seed's continuous-improvement
pipeline run over simulated days.

    .venv/bin/python benchmarks/pipeline.py [--json] [--parts logos,pets] [--stream N]
        [--days 10] [--test N] [--size 96] [--pet-size N]
        [--data ../shared/data/oxford-pets-sample]
        [--error-rate 0.02] [--seed 0] [--out FILE]

For each part (synthetic logos, 3 classes; cat versus dog on the Oxford-IIIT Pet sample, read
in place):
1. 10 labeled images seed the pipeline as the seed's `images_labeled_by_folder/` does (a
   folder per label, imported); a held-out test set, never streamed nor trained on, is imported
   beside it to score each version;
2. the pipeline (the built-in classifier on the installed pretrained backbone, its own review
   flow for a team of three simulated reviewers, every parameter at the seed's default) ticks
   at the start: the training schedule fires, v1 trains, is gated and deployed;
3. the stream arrives over `--days` simulated days in half-day batches through
   `pipeline.submit`; the deployed version detects each image; those below 70 % go to review;
4. the reviewers answer every open loop from the truth, misreading a class `--error-rate` of
   the time, charged seconds by `core/effort.py`;
5. at the end of each half day the pipeline ticks (a fake clock: 720 minutes apart, the
   seed's Automatic-Training-Poll-Frequency): completed reviews join the training set, and
   once 10 new labeled images exist a new version trains from the deployed one, is gated at
   F1 0.8 on its own test split, and replaces it if it passes.

Reported per version: its F1 on the fixed held-out test set, the images it trained on, whether
it was deployed, and the share of the detections it answered that needed review; overall, the
images reviewed, the human seconds, the review share of the first and the last deployed
version, and the gate's refusals. Target (logos): the last deployed version's F1 >= 0.95, and
the review share falling by at least half from the first version to the last.

Runs on 2 threads, seeded. Prints a table, or the JSON with --json; always writes --out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from realphotos import read_photos  # benchmarks/: the same reader of the pets sample
from report import cell, parts_option
from sqlalchemy import func, select

from truthloop import people
from truthloop.core.types import Classification, Value
from truthloop.datasets.importing import import_dataset
from truthloop.formats import open_reader
from truthloop.ml.classifier import Classifier
from truthloop.ml.registry import evaluate_version, list_versions
from truthloop.pipeline import PipelineSpec, get_pipeline, list_runs
from truthloop.pipeline.intake import Incoming, submit
from truthloop.pipeline.review_flow import review_flow_name
from truthloop.pipeline.schedule import tick
from truthloop.pipeline.setup import set_up_pipeline
from truthloop.sim.logos import generate_logos
from truthloop.sim.pipeline_reviewers import answer_loops
from truthloop.storage.project import Project
from truthloop.storage.tables import PipelineDetectionRow

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "oxford-pets-sample"
RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"
PARTS = ("logos", "pets")
THREADS = 2
LOGO_CLASSES = 3
SEED_IMAGES = 10
T0 = datetime(2026, 12, 1, 6, 0)
HALF_DAY = timedelta(minutes=720)
REVIEWERS = ("rita", "sam", "tove")


@dataclass(frozen=True)
class Photo:
    """An image file and its true label."""

    path: Path
    label: str


@dataclass(frozen=True)
class PartData:
    name: str
    labels: tuple[str, ...]
    seed: list[Photo]
    stream: list[Photo]
    test: list[Photo]


# ---- the data --------------------------------------------------------------------------------


def _balanced_seed(photos: list[Photo], labels: Sequence[str]) -> list[Photo]:
    """SEED_IMAGES photos, as even across the labels as they divide."""
    chosen: list[Photo] = []
    for i in range(SEED_IMAGES):
        label = labels[i % len(labels)]
        chosen.append(next(p for p in photos if p.label == label and p not in chosen))
    return chosen


def logos_part(root: Path, args: argparse.Namespace) -> PartData:
    stream = args.stream or 2000
    made = generate_logos(
        root / "logos",
        images=stream + args.test + 40,
        classes=LOGO_CLASSES,
        seed=args.seed,
        mode="classification",
        size=args.size,
    )
    photos = []
    for record in open_reader("groundtruth", made.manifest):
        value = record.annotations[0].value
        assert isinstance(value, Classification)
        photos.append(Photo(Path(record.uri), value.label))
    seed = _balanced_seed(photos[:40], made.classes)
    rest = photos[40:]
    return PartData("logos", made.classes, seed, rest[: len(rest) - args.test], rest[-args.test :])


def pets_part(args: argparse.Namespace) -> PartData:
    """A test third per species; 10 seed images (5 per species) from the rest; the others
    streamed. A seeded shuffle: a run is repeatable."""
    photos = [Photo(p.path, p.species) for p in read_photos(args.data)]
    random.Random(args.seed).shuffle(photos)
    labels = ("cat", "dog")
    test = [p for label in labels for p in [q for q in photos if q.label == label][::3]]
    left = [p for p in photos if p not in test]
    seed = _balanced_seed(left, labels)
    stream = [p for p in left if p not in seed]
    if args.stream:
        stream = stream[: args.stream]
    return PartData("pets", labels, seed, stream, test)


def as_folders(photos: Sequence[Photo], dest: Path) -> Path:
    """The photos as the seed's `images_labeled_by_folder/`: a folder per label."""
    for photo in photos:
        (dest / photo.label).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo.path, dest / photo.label / photo.path.name)
    return dest


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- the walkthrough -------------------------------------------------------------------------


def set_up(project: Project, part: PartData, folder: Path, args: argparse.Namespace) -> list[int]:
    """The reviewers, the seed and test datasets, and the pipeline with its review flow."""
    with project.session() as session:
        people.add_team(session, "reviewers", "simulated reviewers")
        reviewers = []
        for name in REVIEWERS:
            reviewers.append(people.add_user(session, name, password=None).id)
            people.add_member(session, "reviewers", name)
    import_dataset(
        project,
        "train",
        as_folders(part.seed, folder / "seed"),
        fmt="folders",
        copy=True,
        labels=list(part.labels),
    )
    import_dataset(
        project,
        "heldout",
        as_folders(part.test, folder / "test"),
        fmt="folders",
        labels=list(part.labels),
    )
    # The installed pretrained backbone: at the logos' own size, or its default for photos.
    model = Classifier(image_size=args.size if part.name == "logos" else args.pet_size)
    spec = PipelineSpec(part.name, "classification", "train", model=model)
    set_up_pipeline(project, spec, review_team="reviewers")
    return reviewers


def half_days(stream: Sequence[Photo], days: int) -> list[list[Photo]]:
    """The stream cut into 2 * `days` batches of (nearly) equal size, in arrival order."""
    n = 2 * days
    return [list(stream[i * len(stream) // n : (i + 1) * len(stream) // n]) for i in range(n)]


def walkthrough(part: PartData, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    started = time.perf_counter()
    folder = root / part.name
    with Project.init(folder / "home") as project:
        reviewers = set_up(project, part, folder, args)
        truth: dict[str, Value] = {digest(p.path): Classification(p.label) for p in part.stream}
        first = tick(project, part.name, now=T0)
        reviewed, seconds, ticks = 0, 0.0, [first]
        for h, batch in enumerate(half_days(part.stream, args.days)):
            images = [Incoming(str(p.path), p.path.read_bytes()) for p in batch]
            submit(project, part.name, images, now=T0 + h * HALF_DAY + timedelta(minutes=1))
            work = answer_loops(
                project,
                review_flow_name(part.name),
                truth,
                reviewers,
                error_rate=args.error_rate,
                seed=args.seed + h,
            )
            reviewed, seconds = reviewed + work.tasks, seconds + work.seconds
            ticks.append(tick(project, part.name, now=T0 + (h + 1) * HALF_DAY))
        report = summary(project, part, ticks)
    report.update(
        reviewed=reviewed,
        human_seconds=round(seconds, 1),
        images_seed=len(part.seed),
        images_streamed=len(part.stream),
        images_test=len(part.test),
        seconds=round(time.perf_counter() - started, 1),
    )
    return report


def summary(project: Project, part: PartData, ticks: Sequence[Any]) -> dict[str, Any]:
    """Per version: F1 on the held-out test set, images trained on, deployed or refused, and
    the review share of the detections it answered."""
    shares = review_shares(project, part.name)
    checks = [t.training for t in ticks if t.training is not None and t.training.version]
    deployed = {c.version for c in checks if c.deployed}
    versions = []
    for version in list_versions(project, part.name):
        report = version.training_report or {}
        detected, unsure = shares.get(version.name, (0, 0))
        versions.append(
            {
                "name": version.name,
                "f1": round(evaluate_version(project, version.name, "heldout").f1, 4),
                "test_split_f1": (version.metrics or {}).get("f1"),
                "trained_images": report.get("images"),
                "deployed": version.name in deployed,
                "detections": detected,
                "review_share": round(unsure / detected, 4) if detected else None,
            }
        )
    with project.session() as session:
        refusals = sum(
            1
            for r in list_runs(session, get_pipeline(session, part.name), limit=500)
            if r.kind == "training-check" and (r.error or "").startswith("F1 below minimum")
        )
    answered = [v for v in versions if v["deployed"] and v["detections"]]
    return {
        "versions": versions,
        "gate_refusals": refusals,
        "review_share_first": answered[0]["review_share"] if answered else None,
        "review_share_last": answered[-1]["review_share"] if answered else None,
        "last_deployed": answered[-1]["name"] if answered else None,
        "last_deployed_f1": next((v["f1"] for v in reversed(versions) if v["deployed"]), None),
    }


def review_shares(project: Project, name: str) -> dict[str, tuple[int, int]]:
    """Per version: the detections it answered, and how many of them went to review."""
    with project.session() as session:
        pipeline_id = get_pipeline(session, name).id
        rows = session.execute(
            select(
                PipelineDetectionRow.version,
                func.count(),
                func.count(PipelineDetectionRow.loop_name),
            )
            .where(PipelineDetectionRow.pipeline_id == pipeline_id)
            .group_by(PipelineDetectionRow.version)
        ).all()
    return {str(version): (int(n), int(unsure)) for version, n, unsure in rows}


def run_part(name: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    if name == "pets":
        if not (args.data / "boxes.jsonl").exists():
            return {"skipped": f"no pets sample at {args.data}"}
        return walkthrough(pets_part(args), args, root)
    return walkthrough(logos_part(root, args), args, root)


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="truthloop-pipeline-bench-") as folder:
        parts = {name: run_part(name, args, Path(folder)) for name in args.parts}
    return {
        "parts": parts,
        "run": {
            "parts": args.parts,
            "stream": args.stream,
            "days": args.days,
            "test": args.test,
            "size": args.size,
            "error_rate": args.error_rate,
            "seed": args.seed,
            "threads": args.threads,
            "seconds": round(time.perf_counter() - started, 1),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }


# ---- output ----------------------------------------------------------------------------------




def table(report: dict[str, Any]) -> str:
    lines = []
    for name, part in report["parts"].items():
        if "skipped" in part:
            lines.append(f"{name}: skipped ({part['skipped']})")
            continue
        lines.append(
            f"{name}: {part['images_seed']} seed, {part['images_streamed']} streamed,"
            f" {part['images_test']} held out; {part['seconds']:.0f} s"
        )
        lines.append(
            f"  {'version':14}{'F1 held-out':>12}{'trained':>9}{'deployed':>10}"
            f"{'detections':>12}{'review share':>14}"
        )
        for v in part["versions"]:
            lines.append(
                f"  {v['name']:14}{cell(v['f1']):>12}{cell(v['trained_images']):>9}"
                f"{'yes' if v['deployed'] else 'no':>10}{v['detections']:>12}"
                f"{cell(v['review_share']):>14}"
            )
        lines.append(
            f"  reviewed {part['reviewed']}, human {part['human_seconds']:.0f} s, review share"
            f" {cell(part['review_share_first'])} -> {cell(part['review_share_last'])},"
            f" gate refusals {part['gate_refusals']}"
        )
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument("--data", type=Path, default=DATA, help=f"default: {DATA}")
    parser.add_argument("--parts", type=parts_option(PARTS), default=list(PARTS))
    parser.add_argument(
        "--stream",
        type=int,
        default=None,
        help="images streamed (default: 2000 logos; every pet photo left)",
    )
    parser.add_argument("--days", type=int, default=10, help="simulated days the stream spans")
    parser.add_argument("--test", type=int, default=300, help="held-out logo images")
    parser.add_argument("--size", type=int, default=96, help="the logos' size and the model's")
    parser.add_argument(
        "--pet-size",
        type=int,
        default=None,
        help="the model's input size for the pets (default: the backbone's)",
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.02, help="how often a reviewer misreads a class"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args()
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    if args.json:
        flat = {name: part for name, part in report["parts"].items()}
        print(json.dumps(flat if len(flat) > 1 else next(iter(flat.values())), indent=2))
    else:
        print(table(report))


if __name__ == "__main__":
    main()
