"""Setting which split (train, test, validation, unassigned) a dataset's items are in: by hand
for chosen items, or by a ratio, seeded and stratified by label, with the same hold-out rule
training sets use (core/holdout.py), so a split made here is the one a seed reproduces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from truthloop.core.holdout import stratified_hold_out
from truthloop.core.types import Split
from truthloop.errors import InputError
from truthloop.storage.datasets import iter_records
from truthloop.storage.tables import DatasetRow, ItemRow

CHUNK = 1000
"""Item ids per UPDATE: well under SQLite's limit on bound parameters."""


def _chunks(ids: Iterable[int]) -> Iterable[tuple[int, ...]]:
    it = iter(ids)
    while chunk := tuple(islice(it, CHUNK)):
        yield chunk


def items_per_split(session: Session, dataset: DatasetRow) -> dict[str, int]:
    return {
        str(split): int(n)
        for split, n in session.execute(
            select(ItemRow.split, func.count(ItemRow.id))
            .where(ItemRow.dataset_id == dataset.id)
            .group_by(ItemRow.split)
        ).all()
    }


def _write(session: Session, item_ids: Iterable[int], split: Split) -> None:
    for chunk in _chunks(item_ids):
        session.execute(update(ItemRow).where(ItemRow.id.in_(chunk)).values(split=split.value))


def assign_split(
    session: Session, dataset: DatasetRow, item_ids: Sequence[int], split: Split
) -> dict[str, int]:
    """Puts the items `item_ids` of `dataset` in `split`; refuses (changing nothing) when any
    is not an item of the dataset. Returns the items per split after."""
    wanted = set(item_ids)
    found: set[int] = set()
    for chunk in _chunks(sorted(wanted)):
        found.update(
            session.scalars(
                select(ItemRow.id).where(ItemRow.dataset_id == dataset.id, ItemRow.id.in_(chunk))
            )
        )
    if missing := sorted(wanted - found):
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise InputError(f"dataset {dataset.name!r} has no items with ids {shown}")
    _write(session, sorted(wanted), split)
    return items_per_split(session, dataset)


def split_by_ratio(
    session: Session, dataset: DatasetRow, train_share: float, *, seed: int = 0
) -> dict[str, int]:
    """Every item of `dataset` in train or test: about `train_share` of each label's items
    train (an item's first label by name stratifies it), the rest test, chosen by `seed`.
    Returns the items per split after."""
    if not 0.0 < train_share <= 1.0:
        raise InputError(f"the train share must be above 0 and at most 1, not {train_share}")
    items = [
        (item_id, record.uri, tuple(record.labels()))
        for item_id, record in iter_records(session, dataset.id)
    ]
    test = stratified_hold_out(
        items,
        uri=lambda i: i[1],
        labels=lambda i: i[2],
        share=1.0 - train_share,
        seed=seed,
        at_least_one=train_share < 1.0,
    )
    test_ids = {i[0] for i in test}
    _write(session, (i[0] for i in items if i[0] not in test_ids), Split.TRAIN)
    _write(session, sorted(test_ids), Split.TEST)
    return items_per_split(session, dataset)
