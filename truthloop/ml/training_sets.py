"""What a model version trains, calibrates and is tested on, read from stored datasets and
checked before any work starts.

The test set is, in this order: the test dataset when one is given; else the training
dataset's items marked `test`; else, as Rekognition does, 20 % of the training dataset's
labeled images held out. The hold-out is deterministic (a hash of each image's file name
decides), stratified by label, so evaluating the version later finds the same test images.
Items marked
`validation` calibrate the confidences; the rest train.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from truthloop.core.holdout import HOLD_OUT_SHARE, stratified_hold_out
from truthloop.core.types import ImageRecord, LabelSet, Split, label_names
from truthloop.errors import TrainingError
from truthloop.ml.backend import Example, Task, check_training_set, target_of
from truthloop.storage import datasets as store
from truthloop.storage.project import Project


@dataclass(frozen=True, slots=True)
class TrainingSet:
    train: tuple[ImageRecord, ...]
    validation: tuple[ImageRecord, ...]
    test: tuple[ImageRecord, ...]
    labels: tuple[str, ...]
    test_source: str  # says where the test images came from, for the training report
    test_share: float = HOLD_OUT_SHARE  # of the dataset held out when it supplies the test


def read_dataset(project: Project, name: str) -> tuple[list[ImageRecord], LabelSet]:
    """Every record of the stored dataset `name`, and its label set."""
    with project.session() as session:
        dataset = store.get_dataset(session, name)
        label_set = store.label_set_of(session, dataset)
        records = [record for _, record in store.iter_records(session, dataset.id)]
    return records, label_set


def labeled(records: Sequence[ImageRecord], task: Task) -> list[Example]:
    return [
        Example(record, target)
        for record in records
        if (target := target_of(record, task)) is not None
    ]


def _labels_used(found: Sequence[Example], label_set: LabelSet) -> tuple[str, ...]:
    """The labels the examples use, in the label set's order (unknown names last, sorted)."""
    used = {name for e in found for name in label_names(e.target)}
    order = {name: i for i, name in enumerate(label_set.names)}
    return tuple(sorted(used, key=lambda name: (order.get(name, len(order)), name)))


def hold_out(
    found: Sequence[Example], share: float = HOLD_OUT_SHARE
) -> tuple[list[Example], list[Example]]:
    """(train, test): about `share` of each label's images go to the test set (at least one
    image in all when there are two or more), chosen by the hash of their URI."""
    chosen = stratified_hold_out(
        found, uri=lambda e: e.record.uri, labels=lambda e: label_names(e.target), share=share
    )
    test_uris = {e.record.uri for e in chosen}
    return [e for e in found if e.record.uri not in test_uris], chosen


def test_split(
    records: Sequence[ImageRecord], task: Task, dataset: str, share: float = HOLD_OUT_SHARE
) -> tuple[list[Example], list[Example], str]:
    """The labeled training candidates, the test examples, and where the test examples came
    from, when the training dataset itself supplies the test set."""
    found = labeled(records, task)
    marked = [e for e in found if e.record.split is Split.TEST]
    if marked:
        rest = [e for e in found if e.record.split is not Split.TEST]
        return rest, marked, f"the {len(marked)} items of {dataset} in split test"
    train, test = hold_out(found, share)
    return train, test, f"{len(test)} images of {dataset} held out ({share:.0%})"


def training_set(
    project: Project,
    task: Task,
    dataset: str,
    *,
    test_dataset: str | None = None,
    min_images: int = 1,
    test_share: float = HOLD_OUT_SHARE,
) -> TrainingSet:
    """The checked training set, or a `TrainingError` saying what the data lacks. Without a
    test dataset or items marked `test`, `test_share` of the labeled images test the model."""
    if test_dataset == dataset:
        raise TrainingError(
            f"the test dataset must not be the training dataset ({dataset!r}): leave it out to"
            " hold out 20 % of the training images instead"
        )
    records, label_set = read_dataset(project, dataset)
    everything = labeled(records, task)
    if not everything:
        raise TrainingError(
            f"dataset {dataset!r} has no {task.value} labels: none of its {len(records)} images"
            f" is labeled for {task.value}; label some first (or pick the right --task)"
        )
    if test_dataset is not None:
        test_records, _ = read_dataset(project, test_dataset)
        candidates, test = everything, labeled(test_records, task)
        source = f"dataset {test_dataset}"
        if not test:
            raise TrainingError(
                f"test dataset {test_dataset!r} has no {task.value} labels: none of its"
                f" {len(test_records)} images can score the model"
            )
    else:
        candidates, test, source = test_split(records, task, dataset, test_share)
        if not test:
            raise TrainingError(
                f"dataset {dataset!r} has only {len(everything)} labeled image: too few to"
                " hold out a test set; give a test dataset"
            )
    labels = _labels_used(candidates, label_set)
    if not labels:
        raise TrainingError(
            f"dataset {dataset!r} has no labeled images left to train on once its test images"
            f" ({source}) are taken out"
        )
    validation = [e.record for e in candidates if e.record.split is Split.VALIDATION]
    train = [e.record for e in candidates if e.record.split is not Split.VALIDATION]
    try:
        check_training_set(train, task, labels, min_images)
    except TrainingError as error:
        raise TrainingError(
            f"dataset {dataset!r}, without its test images ({source}): {error}"
        ) from None
    tested = {name for e in test for name in label_names(e.target)}
    if not tested & set(labels):
        raise TrainingError(
            f"the test images ({source}) share no label with the training images of"
            f" {dataset!r} ({', '.join(labels)}): they cannot score the model"
        )
    return TrainingSet(
        train=tuple(train),
        validation=tuple(validation),
        test=tuple(e.record for e in test),
        labels=labels,
        test_source=source,
        test_share=test_share,
    )
