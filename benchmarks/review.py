"""Amazon A2I's object-detection walkthrough, reproduced with human review (issue 19).

    .venv/bin/python benchmarks/review.py [--json] [--parts logos,pets] [--stream N]
        [--limit N] [--data ../shared/data/oxford-pets-sample] [--out FILE]
        [--v1-epochs 12] [--v2-epochs N] [--v2-data review+v1|review] [--seed 0]

For each part (synthetic logos; cat and dog heads of the Oxford-IIIT Pet sample, read in place):
1. a detector v1, under-trained on a few images so that it is unsure on many, is started;
2. a task UI in A2I's style (crowd-bounding-box, its `initial-value` built by Liquid from
   `task.input.initialValue`) and a flow attached to v1 review "top confidence < 50", and audit
   5 % of the rest: `Or(TopConfidenceCheck < 50, And(Sampling 5 %, TopConfidenceCheck >= 50))`;
3. unseen images are streamed through `truthloop.review.detect`, one call per image as a
   client makes them; the loops are counted by the Or branch that started them;
4. simulated reviewers work the loops through the portal's task API (bearer tokens,
   `POST /api/jobs/{job}/next`, the task frame, its signed image link,
   `POST /api/review/tasks/{id}/submit`), correcting the model's boxes towards the true ones
   with a small per-box error, charged seconds by `core/effort.py`;
5. the completed loops are exported as an augmented manifest (attribute `a2i-retraining`),
   imported beside v1's training images, and v2 is trained from v1's weights;
6. v1 and v2 are scored on a held-out test set neither saw, and the sampled audit estimates
   v1's accuracy on its confident predictions, with a 95 % Clopper-Pearson interval, beside
   the accuracy the benchmark knows from the truth of every confident image streamed.

Choices. v2 trains from v1's weights (v1's hyper-parameters, the detector's automatic epochs
unless --v2-epochs) on the exported answers plus v1's own few images (`--v2-data review` for
the answers alone, as the notebook's incremental step does); both are scored on the same
held-out test set, whose evaluation also sets each version's assumed thresholds, as for every
version. The reviewers keep a model box that fits an object (IoU >= 0.7, right label), move one
that half fits (5 s), delete one that fits nothing (each box looked at, 1.6 s) and draw what
the model missed (7 s, extreme clicking), with a wrong class 2 % of the time and box edges off
by up to 2 %. The audit counts an image right when v1's boxes as the client got them (after the
assumed thresholds) match the reviewer's one to one at IoU >= 0.5 with the same labels
(`core.correctness.boxes_match`).

Runs on 2 threads, seeded. Prints a table, or the JSON with --json; always writes --out.
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
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any

# On a shared machine, OpenMP threads that spin while they wait burn the cores the others need
# (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from fastapi.testclient import TestClient
from PIL import Image
from realphotos import read_photos  # benchmarks/: the same reader of the pets sample
from report import cell, parts_option

from truthloop import people
from truthloop.core.correctness import boxes_match
from truthloop.core.effort import manual_seconds, task_seconds
from truthloop.core.geometry import clip, iou
from truthloop.core.thresholds import accuracy_interval
from truthloop.core.types import Annotation, Box, Boxes, ImageRecord, ImageSize, LabelSet
from truthloop.datasets.importing import import_dataset
from truthloop.formats import open_reader, write
from truthloop.ml.registry import get_version, train_version, trained_model
from truthloop.ml.serving import start_version
from truthloop.ml.versions import fresh_like
from truthloop.review import (
    DetectImage,
    FlowSpec,
    create_flow,
    create_task_ui,
    detect,
    export_flow,
    get_loop,
)
from truthloop.review.templates import EXAMPLE_TEMPLATE
from truthloop.sim.logos import generate_logos, logo_classes
from truthloop.sim.workforce import ADJUST_IOU, KEEP_IOU, WorkerProfile
from truthloop.storage.project import Project
from truthloop.web.app import create_app

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "oxford-pets-sample"
RESULTS = Path(__file__).resolve().parent / "results" / "review.json"
PARTS = ("logos", "pets")
THREADS = 2
LOGO_CLASSES = 3
SPECIES = ("cat", "dog")
FLOW = "detect-review"
ATTRIBUTE = "a2i-retraining"
# The walkthrough's rule: review what the model is unsure of, and audit 5 % of the rest.
CONDITIONS = {
    "Conditions": [
        {
            "Or": [
                {
                    "ConditionType": "TopConfidenceCheck",
                    "ConditionParameters": {"ConfidenceLessThan": 50},
                },
                {
                    "And": [
                        {
                            "ConditionType": "Sampling",
                            "ConditionParameters": {"RandomSamplingPercentage": 5},
                        },
                        {
                            "ConditionType": "TopConfidenceCheck",
                            "ConditionParameters": {"ConfidenceGreaterThanEquals": 50},
                        },
                    ]
                },
            ]
        }
    ]
}
# A2I's object-detection task UI: the model's boxes become the initial value through Liquid
# (every value through to_json, so no input text can add keys or boxes), labels from the input.
TEMPLATE = EXAMPLE_TEMPLATE
# Careful people: a wrong class 2 % of the time, box edges off by up to 2 % of the box, no
# object missed (the simulated workforce's defaults).
REVIEWERS = (WorkerProfile("rae"), WorkerProfile("rex"), WorkerProfile("ros"))


@dataclass(frozen=True, slots=True)
class Sample:
    """An image and its true boxes."""

    uri: str
    size: ImageSize
    truth: tuple[Box, ...]


@dataclass(frozen=True, slots=True)
class PartData:
    """One walkthrough's images: v1's few, the stream, the held-out test set."""

    name: str
    labels: tuple[str, ...]
    v1: list[Sample]
    stream: list[Sample]
    test: list[Sample]
    roots: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Streamed:
    """One detect call: v1's boxes as the client got them (after the version's assumed
    thresholds), and the loop it started, with the Or branch that started it."""

    sample: Sample
    boxes: tuple[Box, ...]
    loop: str | None
    branch: str | None  # "condition" (top < 50), "sampling" (the 5 % audit) or None


@dataclass
class ReviewTally:
    tasks: int = 0
    seconds: float = 0.0
    modified: int = 0
    actions: Counter[str] = field(default_factory=Counter)


# ---- the data --------------------------------------------------------------------------------


def logo_samples(dest: Path, images: int, seed: int) -> list[Sample]:
    """Synthetic logos (a seed per set, so the sets share no scene), with their true boxes."""
    made = generate_logos(dest, images=images, classes=LOGO_CLASSES, seed=seed)
    samples = []
    for record in open_reader("groundtruth", made.manifest, allowed_roots=[dest]):
        value = record.annotations[0].value
        assert isinstance(value, Boxes) and record.size is not None
        samples.append(Sample(record.uri, record.size, value.boxes))
    return samples


def logos_part(root: Path, args: argparse.Namespace) -> PartData:
    stream = args.stream if args.stream is not None else 300
    test = min(args.limit, 100) if args.limit else 100
    return PartData(
        "logos",
        logo_classes(LOGO_CLASSES),
        logo_samples(root / "logos-v1", args.logo_v1_images, seed=args.seed + 11),
        logo_samples(root / "logos-stream", stream, seed=args.seed + 12),
        logo_samples(root / "logos-test", test, seed=args.seed + 13),
        (root,),
    )


def read_pets(folder: Path) -> list[tuple[str, Sample]]:
    """(species, sample) per photo of the sample, read as the real-photo benchmark reads it."""
    return [
        (p.species, Sample(str(p.path), ImageSize(p.width, p.height), p.heads))
        for p in read_photos(folder)
    ]


def pets_part(args: argparse.Namespace) -> PartData:
    """A test third held out per species; v1's few drawn half per species from the rest; the
    others streamed. Seeded shuffles, so a run is repeatable."""
    rng = random.Random(args.seed)
    photos = read_pets(args.data)
    rng.shuffle(photos)
    if args.limit:
        photos = photos[: args.limit]
    v1: list[Sample] = []
    stream: list[Sample] = []
    test: list[Sample] = []
    for species in SPECIES:
        mine = [s for k, s in photos if k == species]
        cut = round(len(mine) / 3)
        test += mine[:cut]
        v1 += mine[cut : cut + args.pet_v1_images // 2]
        stream += mine[cut + args.pet_v1_images // 2 :]
    rng.shuffle(stream)
    if args.stream is not None:
        stream = stream[: args.stream]
    return PartData("pets", SPECIES, v1, stream, test, (args.data,))


# ---- the project: datasets, v1, the review flow ---------------------------------------------


def import_samples(
    project: Project, name: str, samples: Sequence[Sample], part: PartData, folder: Path
) -> None:
    """The samples as a Ground Truth manifest, imported as dataset `name` (images in place)."""
    manifest = folder / f"{name}.manifest"
    records = [
        ImageRecord(s.uri, s.size, (Annotation(Boxes(s.truth), attribute=part.name),))
        for s in samples
    ]
    label_set = LabelSet.from_names(part.labels)
    write("groundtruth", records, manifest, label_set=label_set, label_attribute=part.name)
    import_dataset(project, name, manifest, fmt="groundtruth", allowed_roots=list(part.roots))


def setup_review(project: Project, version: str) -> tuple[int, list[str]]:
    """The reviewers' team (each with an API token, as a script signs in), the task UI and the
    flow attached to `version`; the flow's job and the tokens."""
    with project.session() as session:
        people.add_team(session, "reviewers", "simulated reviewers")
        tokens = []
        for profile in REVIEWERS:
            user = people.add_user(session, profile.username, password=None)
            people.add_member(session, "reviewers", profile.username)
            tokens.append(people.create_api_token(session, user, "review benchmark"))
        create_task_ui(session, "boxes-ui", TEMPLATE)
    flow = create_flow(
        project,
        FlowSpec(
            name=FLOW,
            team="reviewers",
            task_ui="boxes-ui",
            title="Check the model's boxes",
            description="Move, resize or delete the model's boxes; draw the ones it missed.",
            output=str(project.home / "a2i-output"),
            conditions=CONDITIONS,
            model_version=version,
        ),
    )
    assert flow.status == "Active", flow.failure_reason
    return flow.job_id, tokens


# ---- streaming the images through detect -----------------------------------------------------


def stream_images(project: Project, version: str, samples: Sequence[Sample]) -> list[Streamed]:
    """One detect call per image, with the bytes of its file, as a client sends them."""
    streamed = []
    for sample in samples:
        data = Path(sample.uri).read_bytes()
        with Image.open(BytesIO(data)) as opened:
            image = opened.convert("RGB")
        [answer] = detect(project, version, [DetectImage(image, data)])
        output = answer.get("HumanLoopActivationOutput")
        assert output is None or isinstance(output, dict), "one flow is attached"
        loop = output["HumanLoopName"] if output else None
        branch = started_by(output) if output else None
        streamed.append(Streamed(sample, answer_boxes(answer, image.size), loop, branch))
    return streamed


def started_by(output: dict[str, Any]) -> str:
    """Which member of the Or started the loop: the two are exclusive (top < 50, or top >= 50
    and sampled), so exactly one is true in the evaluation record."""
    results = json.loads(output["HumanLoopActivationConditionsEvaluationResults"])
    low, audit = results["Conditions"][0]["Or"]
    if low["EvaluationResult"]:
        return "condition"
    assert audit["EvaluationResult"], results
    return "sampling"


def answer_boxes(answer: dict[str, Any], size: tuple[int, int]) -> tuple[Box, ...]:
    """DetectCustomLabels' boxes (ratios of the image) in pixels."""
    width, height = size
    boxes = []
    for label in answer["CustomLabels"]:
        ratio = label["Geometry"]["BoundingBox"]
        boxes.append(
            Box(
                label["Name"],
                ratio["Left"] * width,
                ratio["Top"] * height,
                ratio["Width"] * width,
                ratio["Height"] * height,
                label["Confidence"] / 100,
            )
        )
    return tuple(boxes)


# ---- reviewers, through the portal's task API ------------------------------------------------


class _BoxElement(HTMLParser):
    """The first crowd-bounding-box's attributes (entities decoded, as a browser reads them)."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "crowd-bounding-box" and self.attrs is None:
            self.attrs = dict(attrs)


def read_frame(html: str) -> tuple[str, list[str], list[Box]]:
    """What the crowd-bounding-box element reads from the task page: its image link, its
    labels, and the initial boxes the template built."""
    parser = _BoxElement()
    parser.feed(html)
    attrs = parser.attrs
    assert attrs is not None, "the task page has no crowd-bounding-box"
    initial = [
        Box(b["label"], b["left"], b["top"], b["width"], b["height"])
        for b in json.loads(attrs["initial-value"] or "[]")
    ]
    return attrs["src"] or "", json.loads(attrs["labels"] or "[]"), initial


def _slip(label: str, labels: Sequence[str], profile: WorkerProfile, rng: random.Random) -> str:
    others = [x for x in labels if x != label]
    return rng.choice(others) if others and rng.random() < profile.class_error_rate else label


def _jitter(box: Box, size: ImageSize, profile: WorkerProfile, rng: random.Random) -> Box | None:
    """The true box as a person draws it: each edge off by up to `box_jitter` of the box,
    whole pixels, inside the image (as the simulated workforce draws)."""

    def move(extent: float) -> float:
        return rng.uniform(-1, 1) * profile.box_jitter * extent

    left, top = box.left + move(box.width), box.top + move(box.height)
    right, bottom = box.right + move(box.width), box.bottom + move(box.height)
    placed = clip(Box(box.label, left, top, max(right - left, 1.0), max(bottom - top, 1.0)), size)
    if placed is None:
        return None
    left, top = round(placed.left), round(placed.top)
    right = min(max(round(placed.right), left + 1), size.width)
    bottom = min(max(round(placed.bottom), top + 1), size.height)
    return Box(box.label, left, top, right - left, bottom - top)


def correct(
    initial: Sequence[Box],
    truth: Sequence[Box],
    labels: Sequence[str],
    size: ImageSize,
    profile: WorkerProfile,
    rng: random.Random,
) -> tuple[list[Box], Counter[str]]:
    """A careful reviewer's boxes and the actions they took: each model box is looked at, kept
    when it already fits an object (IoU >= 0.7, right label), moved onto the object it half
    covers, deleted when it covers none (or one another box took); missed objects are drawn.
    The same thresholds as the simulated workforce's box adjustment."""
    actions: Counter[str] = Counter()
    boxes: list[Box] = []
    found: set[int] = set()
    for box in initial:
        actions["verify_box"] += 1
        pairs = [(iou(box, t), i) for i, t in enumerate(truth) if i not in found]
        overlap, index = max(pairs, default=(0.0, -1))
        if overlap <= ADJUST_IOU:
            continue
        found.add(index)
        if overlap >= KEEP_IOU and box.label == truth[index].label:
            boxes.append(box)
            continue
        actions["adjust_box"] += 1
        if placed := _jitter(truth[index], size, profile, rng):
            boxes.append(replace(placed, label=_slip(placed.label, labels, profile, rng)))
    for i, missed in enumerate(truth):
        if i not in found and (placed := _jitter(missed, size, profile, rng)):
            actions["draw_box"] += 1
            boxes.append(replace(placed, label=_slip(placed.label, labels, profile, rng)))
    return boxes, actions


def crowd_output(boxes: Sequence[Box], initial: Sequence[Box], size: ImageSize) -> dict[str, Any]:
    """crowd-bounding-box's output, as the element submits it."""
    keys = ("height", "label", "left", "top", "width")
    drawn = [{k: getattr(b, k) for k in keys} for b in boxes]
    started = [{k: getattr(b, k) for k in keys} for b in initial]
    return {
        "boundingBoxes": drawn,
        "inputImageProperties": {"height": size.height, "width": size.width},
        "initialValueModified": drawn != started,
    }


def work_one(
    client: TestClient,
    job: int,
    token: str,
    profile: WorkerProfile,
    truth: dict[str, Sample],
    rng: random.Random,
) -> tuple[float, bool, Counter[str]] | None:
    """One task, as the review page does it: lease, open the loop and its frame, load the
    image through the frame's signed link, submit the corrected boxes. None: no task waits."""
    auth = {"Authorization": f"Bearer {token}"}
    leased = client.post(f"/api/jobs/{job}/next", headers=auth)
    if leased.status_code == 204:
        return None
    leased.raise_for_status()
    task_id = leased.json()["task_id"]
    about = client.get(f"/api/review/tasks/{task_id}", headers=auth).raise_for_status().json()
    frame = client.get(about["frame_url"], headers=auth).raise_for_status().text
    src, labels, initial = read_frame(frame)
    picture = client.get(src).raise_for_status().content  # no session: the link's token
    with Image.open(BytesIO(picture)) as opened:
        size = ImageSize(*opened.size)
    boxes, actions = correct(initial, truth[about["loop"]].truth, labels, size, profile, rng)
    output = crowd_output(boxes, initial, size)
    seconds = round(task_seconds(actions, profile.seconds), 3)
    body = {
        "client_id": uuid.uuid4().hex,
        "answer": {"annotatedResult": output},
        "seconds": seconds,
    }
    client.post(f"/api/review/tasks/{task_id}/submit", headers=auth, json=body).raise_for_status()
    return seconds, output["initialValueModified"], actions


def review_all(
    project: Project, job: int, tokens: Sequence[str], truth: dict[str, Sample], seed: int
) -> ReviewTally:
    """The reviewers take turns until none gets a task."""
    tally = ReviewTally()
    rng = random.Random(seed)
    idle, turn = 0, 0
    with TestClient(create_app(project)) as client:
        while idle < len(REVIEWERS):
            profile, token = REVIEWERS[turn % len(REVIEWERS)], tokens[turn % len(REVIEWERS)]
            turn += 1
            done = work_one(client, job, token, profile, truth, rng)
            if done is None:
                idle += 1
                continue
            idle = 0
            seconds, modified, actions = done
            tally.tasks += 1
            tally.seconds += seconds
            tally.modified += modified
            tally.actions.update(actions)
    return tally


# ---- after the review: v2, the audit ---------------------------------------------------------


def train_v2(
    project: Project, part: PartData, v1: str, folder: Path, args: argparse.Namespace
) -> tuple[str, dict[str, Any]]:
    """Export the completed loops, import them with v1's own images (the notebook continues
    from the last model on the new answers; v1's few images go along so that v2 does not
    forget what they taught), and train v2 from v1's weights, as v1's model but for epochs."""
    dest = folder / "augmented.manifest"
    exported = export_flow(project, FLOW, dest)
    if args.v2_data == "review+v1":
        import_samples(project, "v2-train", part.v1, part, folder)
    if exported.lines:
        import_dataset(
            project,
            "v2-train",
            dest,
            fmt="groundtruth",
            label_attribute=ATTRIBUTE,
            allowed_roots=[project.home],
        )
    model = fresh_like(trained_model(project, v1)[1], epochs=args.v2_epochs)
    v2 = train_version(
        project,
        part.name,
        dataset="v2-train",
        task="detection",
        test_dataset="test",
        from_version=v1,
        model=model,
    )
    return v2.name, {
        "exported_lines": exported.lines,
        "exported_loops": exported.loops,
        "v2_training_images": (v2.training_report or {}).get("images"),
    }


def reviewer_boxes(project: Project, loop: str) -> tuple[Box, ...]:
    """The reviewer's boxes as the loop's output.json holds them."""
    with project.session() as session:
        uri = get_loop(session, loop).output_uri
    document = json.loads(Path(uri or "").read_text())
    answer = document["humanAnswers"][0]["answerContent"]["annotatedResult"]
    return tuple(
        Box(b["label"], b["left"], b["top"], b["width"], b["height"])
        for b in answer["boundingBoxes"]
    )


def audit(project: Project, streamed: Sequence[Streamed]) -> dict[str, Any]:
    """v1's accuracy on its confident predictions (top >= 50): estimated from the sampled
    loops (an image is right when v1's boxes match the reviewer's one to one at IoU >= 0.5
    with the same labels), and measured on every confident image against the truth."""
    sampled = [s for s in streamed if s.branch == "sampling" and s.loop is not None]
    right = sum(boxes_match(reviewer_boxes(project, s.loop), s.boxes) for s in sampled if s.loop)
    confident = [s for s in streamed if s.branch != "condition"]
    truly = sum(boxes_match(s.sample.truth, s.boxes) for s in confident)
    return {
        "audit_images": len(sampled),
        "audit_right": right,
        "audit_accuracy": right / len(sampled) if sampled else None,
        "audit_interval": list(accuracy_interval(right, len(sampled))) if sampled else None,
        "confident_images": len(confident),
        "confident_accuracy_truth": truly / len(confident) if confident else None,
    }


# ---- one part, the whole run -----------------------------------------------------------------


def _timed(timings: dict[str, float], name: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = work()
    timings[name] = time.perf_counter() - started
    return result


def _scores(project: Project, version: str, prefix: str) -> dict[str, Any]:
    """The version's evaluation on the held-out test set (made when it was trained)."""
    metrics = get_version(project, version).metrics or {}
    return {f"{prefix}_map50": metrics.get("map50"), f"{prefix}_f1": metrics.get("f1")}


def _loop_counts(streamed: Sequence[Streamed]) -> dict[str, Any]:
    branches = Counter(s.branch for s in streamed if s.loop is not None)
    return {
        "images_streamed": len(streamed),
        "loops": sum(branches.values()),
        "condition_loops": branches["condition"],
        "sampled_loops": branches["sampling"],
    }


def train_v1(project: Project, part: PartData, folder: Path, args: argparse.Namespace) -> str:
    """v1 on the part's few images, few epochs (unsure on many), scored on the test set;
    started, as detect needs a running version."""
    import_samples(project, "v1-train", part.v1, part, folder)
    import_samples(project, "test", part.test, part, folder)
    v1 = train_version(
        project,
        part.name,
        dataset="v1-train",
        task="detection",
        test_dataset="test",
        epochs=args.v1_epochs,
    ).name
    start_version(project, v1)
    return v1


def walkthrough(part: PartData, args: argparse.Namespace) -> dict[str, Any]:
    """The whole walkthrough on one part, in a fresh project."""
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=f"truthloop-review-{part.name}-") as name:
        folder = Path(name)
        with Project.init(folder / "home") as project:
            v1 = _timed(timings, "train_v1", lambda: train_v1(project, part, folder, args))
            job, tokens = setup_review(project, v1)
            streamed = _timed(timings, "stream", lambda: stream_images(project, v1, part.stream))
            truth = {s.loop: s.sample for s in streamed if s.loop is not None}
            tally = _timed(
                timings, "review", lambda: review_all(project, job, tokens, truth, args.seed)
            )
            v2, exported = _timed(
                timings, "train_v2", lambda: train_v2(project, part, v1, folder, args)
            )
            result = {
                "images_v1": len(part.v1),
                "images_test": len(part.test),
                **_loop_counts(streamed),
                "completed_loops": exported["exported_loops"],
                "human_seconds": tally.seconds,
                "scratch_seconds": manual_seconds(Boxes(s.truth) for s in truth.values()),
                "reviewed_tasks": tally.tasks,
                "modified_answers": tally.modified,
                "review_actions": dict(tally.actions),
                **exported,
                **_scores(project, v1, "v1"),
                **_scores(project, v2, "v2"),
                **audit(project, streamed),
            }
    timings["total"] = sum(timings.values())
    return {**result, "seconds": timings}


def run_part(name: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """One part's figures, or why it was skipped."""
    if name == "pets" and not (args.data / "boxes.jsonl").is_file():
        return {"skipped": f"no Oxford-IIIT Pet sample at {args.data} (boxes.jsonl missing)"}
    part = logos_part(root, args) if name == "logos" else pets_part(args)
    result = walkthrough(part, args)
    print(f"{name}: {result['loops']} loops, {result['seconds']['total']:.0f} s", file=sys.stderr)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    parts: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="truthloop-review-data-") as folder:
        for name in args.parts:
            parts[name] = run_part(name, args, Path(folder))
    return {
        "parts": parts,
        "conditions": CONDITIONS,
        "run": {
            "parts": args.parts,
            "stream": args.stream,
            "limit": args.limit,
            "v1_epochs": args.v1_epochs,
            "v2_epochs": args.v2_epochs,
            "v2_data": args.v2_data,
            "seed": args.seed,
            "threads": args.threads,
            "data": str(args.data),
            "seconds": time.perf_counter() - started,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }




ROWS = (
    ("images: v1 / streamed / test", ("images_v1", "images_streamed", "images_test"), "d"),
    ("loops: all / condition / sampled", ("loops", "condition_loops", "sampled_loops"), "d"),
    ("loops completed, lines exported", ("completed_loops", "exported_lines"), "d"),
    ("human s (from scratch s)", ("human_seconds", "scratch_seconds"), ".0f"),
    ("mAP@0.5: v1 -> v2", ("v1_map50", "v2_map50"), ".3f"),
    ("F1: v1 -> v2", ("v1_f1", "v2_f1"), ".3f"),
    ("audit: right / sampled", ("audit_right", "audit_images"), "d"),
    ("audit accuracy [95 % CI]", ("audit_accuracy", "audit_interval"), ".3f"),
    ("confident: images, true acc.", ("confident_images", "confident_accuracy_truth"), ".3f"),
)


def table(report: dict[str, Any]) -> str:
    parts = report["parts"]
    names = list(parts)
    lines = ["A2I object-detection walkthrough: " + "  |  ".join(names)]
    for title, keys, spec in ROWS:
        cells = []
        for name in names:
            result = parts[name]
            if "skipped" in result:
                cells.append("skipped")
                continue
            cells.append(" / ".join(cell(result[k], ".3f" if spec == "d" else spec) for k in keys))
        lines.append(f"{title:34}" + "  |  ".join(f"{c:28}" for c in cells).rstrip())
    for name in names:
        result = parts[name]
        if "skipped" in result:
            lines.append(f"{name}: skipped ({result['skipped']})")
        else:
            seconds = ", ".join(f"{k} {v:.0f}" for k, v in result["seconds"].items())
            lines.append(f"{name} seconds: {seconds}")
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
        help="images streamed per part (default: 300 logos; every pet photo left)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="at most N pet photos and logo test images, for quick checks",
    )
    parser.add_argument("--logo-v1-images", type=int, default=10)
    parser.add_argument("--pet-v1-images", type=int, default=24)
    parser.add_argument(
        "--v1-epochs",
        type=int,
        default=30,
        help="v1's epochs: few, so that it is unsure on many images",
    )
    parser.add_argument(
        "--v2-epochs",
        type=int,
        default=None,
        help="v2's epochs (default: the detector's automatic number)",
    )
    parser.add_argument("--v2-data", choices=["review+v1", "review"], default="review+v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args()
    args.data = args.data.expanduser().resolve()
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
