"""Training and inference of the built-in models on each device this machine has (the CPU, and
a CUDA GPU where there is one): what a GPU buys a pipeline's retraining.

    python benchmarks/device.py [--json] [--images 400] [--boxes-images 200] [--epochs N]
        [--devices cpu,cuda] [--out FILE]

On synthetic logos (classification at 224 px on the installed EfficientNet-Lite0 backbone, and
boxes at 320 px), the same model, data and seed on each device: the seconds to fit, the
images per second to predict, and the F1 on held-out images (so a faster device that learned
less would show). Ratios are within one run on one machine. Prints a table, or JSON with
--json; always writes --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from PIL import Image

from truthloop.core.types import ImageRecord
from truthloop.formats import open_reader
from truthloop.ml.backend import ModelBackend
from truthloop.ml.classifier import Classifier
from truthloop.ml.detector import Detector
from truthloop.ml.evaluate import evaluate
from truthloop.sim.logos import generate_logos

RESULTS = Path(__file__).resolve().parent / "results" / "device.json"


def load(uri: str) -> Image.Image:
    with Image.open(uri) as image:
        return image.convert("RGB")


def logos(
    folder: Path, images: int, mode: str, size: int
) -> tuple[list[ImageRecord], tuple[str, ...]]:
    made = generate_logos(folder, images=images, classes=3, seed=1, mode=mode, size=size)  # type: ignore[arg-type]
    return list(open_reader("groundtruth", made.manifest)), made.classes


def timed(
    model: ModelBackend,
    train: Sequence[ImageRecord],
    test: Sequence[ImageRecord],
    labels: Sequence[str],
) -> dict[str, Any]:
    started = time.perf_counter()
    model.fit(train, load, labels=labels)
    fit_s = time.perf_counter() - started
    pictures = [load(r.uri) for r in test]
    started = time.perf_counter()
    model.predict(pictures)
    predict_s = time.perf_counter() - started
    return {
        "fit_seconds": round(fit_s, 2),
        "predict_images_per_s": round(len(pictures) / predict_s, 1),
        "f1": round(evaluate(model, test, load).f1, 4),
        "train_images": len(train),
        "test_images": len(test),
    }


def run_task(
    name: str,
    make: Callable[[str], ModelBackend],
    data: tuple[list[ImageRecord], tuple[str, ...]],
    devices: Sequence[str],
) -> dict[str, Any]:
    records, labels = data
    split = len(records) * 3 // 4
    return {
        device: timed(make(device), records[:split], records[split:], labels) for device in devices
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--boxes-images", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=None, help="default: the models' own")
    parser.add_argument("--devices", default=None, help="default: cpu, and cuda when there is one")
    args = parser.parse_args()
    devices = (
        args.devices.split(",")
        if args.devices
        else ["cpu"] + (["cuda"] * torch.cuda.is_available())
    )
    with tempfile.TemporaryDirectory(prefix="truthloop-device-") as folder:
        root = Path(folder)
        report = {
            "classification": run_task(
                "classification",
                lambda d: Classifier(image_size=224, epochs=args.epochs, device=d),
                logos(root / "classes", args.images, "classification", 224),
                devices,
            ),
            "detection": run_task(
                "detection",
                lambda d: Detector(epochs=args.epochs, device=d),
                logos(root / "boxes", args.boxes_images, "detection", 320),
                devices,
            ),
        }
    report["run"] = {
        "devices": devices,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'task':16}{'device':8}{'fit s':>9}{'predict img/s':>15}{'F1':>8}")
    for task in ("classification", "detection"):
        for device, row in report[task].items():
            print(
                f"{task:16}{device:8}{row['fit_seconds']:>9.1f}{row['predict_images_per_s']:>15.1f}{row['f1']:>8.3f}"
            )
    run = report["run"]
    print(
        f"on {run['gpu'] or 'no GPU'}, torch {run['torch']}, {run['threads']} CPU threads"
    )


if __name__ == "__main__":
    main()
