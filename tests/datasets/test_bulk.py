"""Bulk work keeps the objects that existed before it out of garbage collection, and gives
them back after it, also when it fails."""

from __future__ import annotations

import gc

import pytest

from truthloop.datasets.bulk import old_objects_frozen


def test_old_objects_are_frozen_only_inside_the_block() -> None:
    assert gc.get_freeze_count() == 0
    with old_objects_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), old_objects_frozen():
        raise RuntimeError("the import failed")
    assert gc.get_freeze_count() == 0
