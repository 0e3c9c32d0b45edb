"""The Rekognition feedback walkthrough, reproduced on synthetic logos (issue 6).

    .venv/bin/python benchmarks/feedback.py [--json] [--mode adjust|verify] [--more 25]

Trains v1 on 8 images; v1 proposes labels for 20-30 more, which a simulated workforce adjusts
(or verifies) in batches; the collected dataset trains v2 from v1's weights; v1 and v2 are
evaluated on the same test set. Prints their F1 beside the walkthrough's published figures
(0.667 -> 0.900), and the human seconds the verified set cost against labeling it from scratch.
Runs on 2 threads (the target machine has 2 cores). Always writes benchmarks/results/feedback.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from truthloop.datasets.importing import import_dataset
from truthloop.formats import open_reader
from truthloop.labeling.feedback import start_feedback
from truthloop.labeling.feedback.collect import collect_feedback
from truthloop.labeling.feedback.report import feedback_report
from truthloop.ml.registry import train_version
from truthloop.ml.serving import start_version
from truthloop.sim.logos import generate_logos
from truthloop.sim.workforce import SimulatedWorkforce, WorkerProfile
from truthloop.storage.project import Project

THREADS = 2
CLASSES = 3
PUBLISHED = {"v1_f1": 0.667, "v2_f1": 0.900}
TARGETS = {"v2_f1": (">=", 0.9), "human_share": ("<=", 0.5)}
WORKERS = (WorkerProfile("ada"), WorkerProfile("ben"), WorkerProfile("cyd"))


def logos(project: Project, root: Path, name: str, images: int, seed: int, *,
          labeled: bool) -> dict[str, Any]:
    """Generate and import a logo set; its truth by image path."""
    dest = root / name
    made = generate_logos(dest, images=images, classes=CLASSES, seed=seed)
    truth = {
        r.uri: r.annotations[0].value
        for r in open_reader("groundtruth", made.manifest, allowed_roots=[dest])
    }
    manifest = made.manifest
    if not labeled:
        manifest = dest.parent / f"{name}-unlabeled.manifest"
        manifest.write_text("".join(json.dumps({"source-ref": uri}) + "\n" for uri in truth))
    import_dataset(project, name, manifest, fmt="groundtruth", verify_images=True,
                   allowed_roots=[dest])
    return truth


def run(mode: str, more: int, batch_size: int) -> dict[str, Any]:
    torch.set_num_threads(THREADS)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="truthloop-feedback-") as folder:
        root = Path(folder)
        project = Project.init(root / "home")
        logos(project, root, "logos-v1", 8, seed=11, labeled=True)
        truth = logos(project, root, "logos-more", more, seed=12, labeled=False)
        logos(project, root, "logos-test", 40, seed=13, labeled=True)
        started = time.perf_counter()
        v1 = train_version(project, "logos", dataset="logos-v1", task="detection",
                           test_dataset="logos-test")
        timings["train_v1_s"] = time.perf_counter() - started
        start_version(project, v1.name)
        workforce = SimulatedWorkforce(project, truth, WORKERS, team="crew", seed=0)
        started = time.perf_counter()
        feedback = start_feedback(project, model=v1.name, dataset="logos-more", team="crew",
                                  mode=mode, batch_size=batch_size)
        timings["propose_s"] = time.perf_counter() - started
        for batch in feedback.batches:
            workforce.work(batch.job_id)
        collected = collect_feedback(project, feedback.name)
        started = time.perf_counter()
        report = feedback_report(project, feedback.name, "logos-test")
        timings["train_v2_and_compare_s"] = time.perf_counter() - started
        project.close()
    data = report.to_json()
    result = {
        "machine": {"cpus": THREADS, "python": platform.python_version()},
        "mode": mode,
        "v1_images": 8,
        "feedback_images": more,
        "verified_images": collected.images,
        "batch_size": batch_size,
        "v1_f1": data["v1_f1"],
        "v2_f1": data["v2_f1"],
        "published": PUBLISHED,
        "human_seconds": data["human_seconds"],
        "scratch_human_seconds": data["scratch_human_seconds"],
        "human_share": data["human_share"],
        "counts": data["counts"],
        "comparison": data["comparison"]["rows"],
        "timings": timings,
    }
    result["targets"] = {
        name: {"bound": f"{op} {bound}", "met": _met(result[name], op, bound)}
        for name, (op, bound) in TARGETS.items()
    }
    return result


def _met(value: float | None, op: str, bound: float) -> bool:
    if value is None:
        return False
    return value >= bound if op == ">=" else value <= bound


def table(result: dict[str, Any]) -> str:
    counts = result["counts"]
    lines = [
        f"feedback ({result['mode']}): v1 on {result['v1_images']} images, feedback over"
        f" {result['feedback_images']} ({result['verified_images']} verified)",
        f"{'':14}{'measured':>10}{'published':>11}",
        f"{'v1 F1':14}{result['v1_f1']:>10.3f}{PUBLISHED['v1_f1']:>11.3f}",
        f"{'v2 F1':14}{result['v2_f1']:>10.3f}{PUBLISHED['v2_f1']:>11.3f}",
        f"human seconds {result['human_seconds']:.0f} against"
        f" {result['scratch_human_seconds']:.0f} from scratch"
        f" ({result['human_share']:.2f}x)",
        f"proposals: {counts['accepted']} accepted, {counts['adjusted']} adjusted,"
        f" {counts['rejected']} rejected; {counts['added']} added",
    ]
    lines += [
        f"target {name} {t['bound']}: {'met' if t['met'] else 'NOT met'}"
        for name, t in result["targets"].items()
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--mode", choices=["adjust", "verify"], default="adjust")
    parser.add_argument("--more", type=int, default=25, help="images to annotate (20-30)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "feedback.json")
    args = parser.parse_args()
    result = run(args.mode, args.more, args.batch_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
