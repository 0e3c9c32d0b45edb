"""Tiny trained models, shared by the model tests (each trains in a few seconds).

They calibrate on separate validation images: without them, a model this small would hold
out a share, calibrate, and train again on everything, which takes twice as long.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.ml.shapes import LABELS, Shapes, shapes
from truthloop.ml.classifier import Classifier
from truthloop.ml.detector import Detector


def tiny_classifier(**params: Any) -> Classifier:
    return Classifier(
        **{"backbone": "scratch", "image_size": 48, "epochs": 12, "batch_size": 16, "width": 0.5,
           **params}
    )


def tiny_detector(**params: Any) -> Detector:
    return Detector(
        **{
            "backbone": "scratch",
            "image_size": 128,
            "train_size": 96,
            "epochs": 30,
            "batch_size": 8,
            "width": 0.5,
            **params,
        }
    )


@pytest.fixture(scope="session")
def classes_train() -> Shapes:
    return shapes(36, seed=1)


@pytest.fixture(scope="session")
def classes_test() -> Shapes:
    return shapes(30, seed=2)


@pytest.fixture(scope="session")
def boxes_train() -> Shapes:
    return shapes(40, task="detection", size=96, seed=1)


@pytest.fixture(scope="session")
def boxes_test() -> Shapes:
    return shapes(24, task="detection", size=96, seed=2)


@pytest.fixture(scope="session")
def classifier(classes_train: Shapes) -> Classifier:
    held_out = shapes(8, seed=3, prefix="mem://held-out")
    data = classes_train + held_out
    return tiny_classifier().fit(
        classes_train.records, data.load, labels=LABELS, validation=held_out.records
    )


@pytest.fixture(scope="session")
def detector(boxes_train: Shapes) -> Detector:
    held_out = shapes(8, task="detection", size=96, seed=3, prefix="mem://held-out")
    data = boxes_train + held_out
    return tiny_detector().fit(
        boxes_train.records, data.load, labels=LABELS, validation=held_out.records
    )
