"""The built-in models and automated labeling on real photographs (Oxford-IIIT Pet sample).

    .venv/bin/python benchmarks/realphotos.py [--json] [--out benchmarks/results/realphotos.json]
        [--backbones efficientnet-lite0,scratch]
        [--parts catdog,breeds,heads,autolabel-catdog,autolabel-heads]
        [--limit N] [--draws 3] [--threads 2] [--data ../shared/data/oxford-pets-sample]

Reads the 370-photo sample in place (never copied) and, for every backbone:
- catdog: cat vs dog, tested on a held-out half (stratified by species); trained on 8 and 20
  images (balanced per class, `--draws` draws each) and on the whole training half;
- breeds: 37 breeds, tested on a held-out third stratified by breed (macro F1 beside
  `Evaluation.f1`, which is the micro-average over labels);
- heads: cat and dog head boxes, tested on a held-out third; mAP at IoU 0.5;
- autolabel-catdog, autolabel-heads: a whole automated-labeling job with simulated workers,
  as `truthloop bench loop --auto-label` runs it: machine-labeled share, the machine labels'
  accuracy against the truth, human seconds against labeling by hand, iterations.
Each model part reports training seconds and inference images/s (`predict` over the test
images after a warm-up call, with the pretrained backbone's per-image feature cache emptied
first, so every figure is a real inference). Splits are stratified and seeded; `--limit N`
first takes a subset stratified by breed, for quick checks. Prints a table, or the JSON with
--json; the JSON goes to --out after every part, marked partial until the run ends, with the
issue's targets checked at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any, TypeVar

# On a shared machine, OpenMP threads that spin while they wait burn the cores the others need
# and can slow training several-fold; waiting threads sleep instead (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from PIL import Image
from report import cell  # benchmarks/: what every benchmark prints

from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    Value,
)
from truthloop.datasets.importing import import_dataset
from truthloop.errors import InputError
from truthloop.formats import write
from truthloop.labeling.autolabel import AutoLabelSpec
from truthloop.ml.backbones import BACKBONES, check_backbone
from truthloop.ml.backend import ModelBackend
from truthloop.ml.classifier import Classifier
from truthloop.ml.detector import Detector
from truthloop.ml.evaluate import Evaluation, evaluate
from truthloop.ml.features import SHARED
from truthloop.sim.loop_bench import run_loop
from truthloop.storage.project import Project

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "oxford-pets-sample"
RESULTS = Path(__file__).resolve().parent / "results" / "realphotos.json"
PARTS = ("catdog", "breeds", "heads", "autolabel-catdog", "autolabel-heads")
SPECIES = ("cat", "dog")
FEW = (8, 20)  # catdog training sets drawn balanced per class, besides the whole training half
TARGET_ACCURACY = 0.95
ATTRIBUTE = "pets"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Photo:
    path: Path
    width: int
    height: int
    breed: str
    species: str
    heads: tuple[Box, ...]


# ---- the data --------------------------------------------------------------------------------


def read_photos(folder: Path) -> list[Photo]:
    photos = []
    with (folder / "boxes.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            heads = tuple(Box(b["label"], b["x"], b["y"], b["w"], b["h"]) for b in row["boxes"])
            photos.append(
                Photo(
                    folder / row["image"],
                    row["width"],
                    row["height"],
                    row["label"],
                    row["species"],
                    heads,
                )
            )
    return photos


def load(uri: str) -> Image.Image:
    with Image.open(uri) as image:
        return image.convert("RGB")


def _groups(items: Sequence[T], key: Callable[[T], str], seed: int) -> list[list[T]]:
    """The items by key (keys sorted), each group shuffled with `seed`."""
    by: dict[str, list[T]] = defaultdict(list)
    for item in items:
        by[key(item)].append(item)
    rng = random.Random(seed)
    groups = [by[k] for k in sorted(by)]
    for group in groups:
        rng.shuffle(group)
    return groups


def stratified_subset(items: Sequence[T], key: Callable[[T], str], n: int, seed: int) -> list[T]:
    """`n` items, each group (by key) as near its share of the whole as whole numbers allow."""
    ranked = [
        ((i + 0.5) / len(group), g, item)
        for g, group in enumerate(_groups(items, key, seed))
        for i, item in enumerate(group)
    ]
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [item for _, _, item in ranked[:n]]


def stratified_split(
    items: Sequence[T], key: Callable[[T], str], test_share: float, seed: int
) -> tuple[list[T], list[T]]:
    """(train, test): `test_share` of every group (by key) held out for testing, rounded."""
    train: list[T] = []
    test: list[T] = []
    for group in _groups(items, key, seed):
        cut = round(len(group) * test_share)
        test += group[:cut]
        train += group[cut:]
    return train, test


def balanced_draw(photos: Sequence[Photo], n: int, seed: int) -> list[Photo]:
    """`n` photos, half of each species, drawn with `seed`."""
    rng = random.Random(seed)
    drawn: list[Photo] = []
    for species in SPECIES:
        pool = [p for p in photos if p.species == species]
        drawn += rng.sample(pool, min(n // 2, len(pool)))
    return drawn


def record(photo: Photo, value: Value) -> ImageRecord:
    return ImageRecord(str(photo.path), ImageSize(photo.width, photo.height), (Annotation(value),))


def species_record(photo: Photo) -> ImageRecord:
    return record(photo, Classification(photo.species))


def breed_record(photo: Photo) -> ImageRecord:
    return record(photo, Classification(photo.breed))


def heads_record(photo: Photo) -> ImageRecord:
    return record(photo, Boxes(photo.heads))


# ---- training and measuring a model ----------------------------------------------------------


def model_for(part: str, backbone: str) -> ModelBackend:
    return Detector(backbone=backbone) if part == "heads" else Classifier(backbone=backbone)


def images_per_second(model: ModelBackend, images: list[Image.Image]) -> float:
    """`predict` over all of `images` after a one-image warm-up, from an empty feature cache."""
    model.predict(images[:1])
    SHARED.clear()
    started = time.perf_counter()
    model.predict(images)
    return len(images) / (time.perf_counter() - started)


def scores(result: Evaluation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "test_images": result.testing_images,
        "f1": result.f1,
        "macro_f1": mean(m.f1 for m in result.per_label) if result.per_label else 0.0,
        "precision": result.precision,
        "recall": result.recall,
        "ece": result.ece,
    }
    if result.confusion is not None:
        right = sum(c.count for c in result.confusion if c.ground_truth == c.predicted)
        out["accuracy"] = right / max(result.testing_images, 1)
    if result.map50 is not None:
        out["map50"] = result.map50
        out["map"] = result.map
    return out


def train_and_measure(
    part: str,
    backbone: str,
    train: list[ImageRecord],
    test: list[ImageRecord],
    labels: list[str],
    test_images: list[Image.Image],
) -> dict[str, Any]:
    """Train a fresh model (from an empty feature cache, so the time is a real training), then
    score it on `test` and time its inference."""
    model = model_for(part, backbone)
    SHARED.clear()
    started = time.perf_counter()
    model.fit(train, load, labels=labels)
    seconds = time.perf_counter() - started
    SHARED.clear()
    out = {
        "train_images": len(train),
        "train_seconds": seconds,
        **scores(evaluate(model, test, load)),
    }
    out["images_per_second"] = images_per_second(model, test_images)
    return out


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over draws, with each draw kept."""
    keys = ("f1", "macro_f1", "accuracy", "train_seconds", "images_per_second")
    means = {k: mean(r[k] for r in runs) for k in keys if all(k in r for r in runs)}
    return {
        **means,
        "train_images": runs[0]["train_images"],
        "test_images": runs[0]["test_images"],
        "draws_f1": [r["f1"] for r in runs],
        "draws": runs,
    }


# ---- the parts -------------------------------------------------------------------------------


def catdog(photos: list[Photo], backbone: str, args: argparse.Namespace) -> dict[str, Any]:
    train, test = stratified_split(photos, lambda p: p.species, 0.5, args.seed)
    tests = [species_record(p) for p in test]
    images = [load(str(p.path)) for p in test]
    labels = list(SPECIES)
    out: dict[str, Any] = {}
    for n in FEW:
        runs = []
        for draw in range(args.draws):
            drawn = balanced_draw(train, n, args.seed + draw)
            runs.append(
                train_and_measure(
                    "catdog", backbone, [species_record(p) for p in drawn], tests, labels, images
                )
            )
            _progress(f"catdog {backbone}: {n} images, draw {draw + 1}", runs[-1])
        out[str(n)] = _summary(runs)
    whole = train_and_measure(
        "catdog", backbone, [species_record(p) for p in train], tests, labels, images
    )
    _progress(f"catdog {backbone}: all {len(train)} images", whole)
    out["all"] = _summary([whole])
    return out


def one_model(
    part: str, photos: list[Photo], backbone: str, args: argparse.Namespace
) -> dict[str, Any]:
    """breeds or heads: one training on two thirds, scored on the held-out third."""
    make = breed_record if part == "breeds" else heads_record
    train, test = stratified_split(
        photos,
        (lambda p: p.breed) if part == "breeds" else (lambda p: p.species),
        1 / 3,
        args.seed,
    )
    labels = sorted({p.breed for p in photos}) if part == "breeds" else list(SPECIES)
    images = [load(str(p.path)) for p in test]
    result = train_and_measure(
        part, backbone, [make(p) for p in train], [make(p) for p in test], labels, images
    )
    _progress(f"{part} {backbone}", result)
    return result


def write_manifest(photos: list[Photo], dest: Path, detection: bool) -> Path:
    """A Ground Truth manifest of the photos, as `truthloop.sim.logos` writes one."""
    make = heads_record if detection else species_record
    write(
        "groundtruth",
        [make(p) for p in photos],
        dest,
        label_set=LabelSet.from_names(SPECIES),
        label_attribute=ATTRIBUTE,
    )
    return dest


def autolabel(
    part: str, photos: list[Photo], backbone: str, args: argparse.Namespace
) -> dict[str, Any]:
    """A whole automated-labeling job on the photos, in a fresh project."""
    detection = part == "autolabel-heads"
    with tempfile.TemporaryDirectory(prefix="truthloop-realphotos-") as folder:
        root = Path(folder)
        manifest = write_manifest(photos, root / "pets.manifest", detection)
        with Project.init(root / "home") as project:
            import_dataset(
                project,
                "pets",
                manifest,
                fmt="groundtruth",
                verify_images=True,
                allowed_roots=[args.data],
            )
            SHARED.clear()
            result = run_loop(
                project,
                "pets",
                "detection" if detection else "classification",
                job_name=f"{part}-{backbone}",
                auto=AutoLabelSpec(
                    target_accuracy=TARGET_ACCURACY,
                    backbone=backbone,
                    seed=args.seed,
                ),
                seed=args.seed,
            )
    data = result.to_json()
    print(
        f"{part} {backbone}: {result.machine_labeled_share:.1%} machine-labeled,"
        f" {result.wall_seconds:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return data


def run_part(
    part: str, photos: list[Photo], backbone: str, args: argparse.Namespace
) -> dict[str, Any]:
    if part == "catdog":
        return catdog(photos, backbone, args)
    if part in ("breeds", "heads"):
        return one_model(part, photos, backbone, args)
    return autolabel(part, photos, backbone, args)


def _progress(what: str, result: dict[str, Any]) -> None:
    quality = f"mAP50 {result['map50']:.3f}" if "map50" in result else f"F1 {result['f1']:.3f}"
    print(
        f"{what}: {quality}, trained in {result['train_seconds']:.0f} s,"
        f" {result['images_per_second']:.1f} img/s",
        file=sys.stderr,
        flush=True,
    )


# ---- targets, the report ---------------------------------------------------------------------


def targets(parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issue's targets, for every backbone that ran the part they are about."""
    checks: dict[str, dict[str, Any]] = {}
    for backbone, result in parts.get("catdog", {}).items():
        if backbone != "scratch":
            value = result["20"]["f1"]
            checks[f"catdog F1 from 20 images, mean over draws ({backbone})"] = {
                "value": value,
                "target": ">= 0.95",
                "met": value >= 0.95,
            }
    for backbone, result in parts.get("heads", {}).items():
        checks[f"heads mAP@0.5 ({backbone})"] = {
            "value": result["map50"],
            "target": ">= 0.8",
            "met": result["map50"] >= 0.8,
        }
    for part, share in (("autolabel-catdog", 0.6), ("autolabel-heads", 0.3)):
        for backbone, result in parts.get(part, {}).items():
            value, accuracy = result["machine_labeled_share"], result["machine_label_accuracy"]
            checks[f"{part} machine-labeled share ({backbone})"] = {
                "value": value,
                "target": f">= {share * 100:.0f} % at >= 95 % accuracy",
                "met": value >= share and accuracy is not None and accuracy >= TARGET_ACCURACY,
            }
    return checks


def _run_info(args: argparse.Namespace, photos: list[Photo], started: float) -> dict[str, Any]:
    return {
        "data": str(args.data),
        "images": len(photos),
        "limit": args.limit,
        "backbones": args.backbones,
        "parts": args.parts,
        "draws": args.draws,
        "seed": args.seed,
        "threads": args.threads,
        "seconds": time.perf_counter() - started,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }


def _write(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    photos = read_photos(args.data)
    if args.limit:
        photos = stratified_subset(photos, lambda p: p.breed, args.limit, args.seed)
    parts: dict[str, dict[str, Any]] = {}
    for part in args.parts:
        for backbone in args.backbones:
            parts.setdefault(part, {})[backbone] = run_part(part, photos, backbone, args)
            _write(
                {"partial": True, "parts": parts, "run": _run_info(args, photos, started)}, args.out
            )
    return {
        "partial": False,
        "parts": parts,
        "targets": targets(parts),
        "run": _run_info(args, photos, started),
    }




def _model_rows(parts: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for part in ("catdog", "breeds", "heads"):
        for backbone, result in parts.get(part, {}).items():
            runs = result.items() if part == "catdog" else [("all", result)]
            for train, r in runs:
                each = r.get("draws_f1", [])
                draws = " ".join(f"{f:.3f}" for f in each) if len(each) > 1 else ""
                rows.append(
                    (
                        part,
                        backbone,
                        train,
                        cell(r["train_images"]),
                        cell(r["test_images"]),
                        cell(r["f1"]),
                        cell(r["macro_f1"]),
                        cell(r.get("accuracy")),
                        cell(r.get("map50")),
                        cell(r["train_seconds"], ".1f"),
                        cell(r["images_per_second"], ".1f"),
                        draws,
                    )
                )
    return rows


def _loop_rows(parts: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for part in ("autolabel-catdog", "autolabel-heads"):
        for backbone, r in parts.get(part, {}).items():
            rows.append(
                (
                    part,
                    backbone,
                    cell(r["items"]),
                    cell(r["machine_labeled_share"], ".1%"),
                    cell(r["machine_label_accuracy"], ".1%"),
                    cell(r["human_seconds"], ".0f"),
                    cell(r["manual_human_seconds"], ".0f"),
                    cell(r["human_seconds_ratio"], ".2f"),
                    cell(r["mean_iou"]),
                    cell(r["iterations"]),
                    cell(r["wall_seconds"], ".0f"),
                )
            )
    return rows


def _aligned(rows: Sequence[Sequence[str]]) -> str:
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(r, width, strict=True)).rstrip() for r in rows
    )


def table(report: dict[str, Any]) -> str:
    parts, blocks = report["parts"], []
    head: tuple[str, ...]
    if models := _model_rows(parts):
        head = (
            "part",
            "backbone",
            "train",
            "imgs",
            "test",
            "f1",
            "macro f1",
            "accuracy",
            "map50",
            "train s",
            "img/s",
            "f1 per draw",
        )
        blocks.append(_aligned([head, *models]))
    if loops := _loop_rows(parts):
        head = (
            "part",
            "backbone",
            "items",
            "machine",
            "accuracy",
            "human s",
            "by hand s",
            "ratio",
            "mean IoU",
            "iter",
            "wall s",
        )
        blocks.append(_aligned([head, *loops]))
    checks = [
        (name, cell(t["value"]), t["target"], "met" if t["met"] else "MISSED")
        for name, t in report["targets"].items()
    ]
    if checks:
        blocks.append(_aligned(checks))
    return "\n\n".join(blocks)


def _names(allowed: Sequence[str], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{what} are among {', '.join(allowed)}, not {text!r}")
        return names

    return parse


def _backbones(text: str) -> list[str]:
    """The backbones named, each known and with its weights installed."""
    names = _names(BACKBONES, "backbones")(text)
    try:
        return [check_backbone(name) for name in names]
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument("--data", type=Path, default=DATA, help=f"default: {DATA}")
    parser.add_argument(
        "--backbones",
        type=_backbones,
        default=["efficientnet-lite0", "scratch"],
    )
    parser.add_argument("--parts", type=_names(PARTS, "parts"), default=list(PARTS))
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="use N photos (stratified by breed), for quick checks",
    )
    parser.add_argument("--draws", type=int, default=3, help="draws of the 8 and 20 image sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.data = args.data.expanduser().resolve()
    if not (args.data / "boxes.jsonl").is_file():
        parser.exit(
            2,
            f"no Oxford-IIIT Pet sample at {args.data} (boxes.jsonl missing);"
            " give its folder with --data PATH\n",
        )
    torch.set_num_threads(args.threads)
    report = run(args)
    _write(report, args.out)
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
