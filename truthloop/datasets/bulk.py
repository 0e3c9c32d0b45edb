"""What imports and exports of millions of records share."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Leave the objects that exist now out of garbage collection until the block ends.

    A bulk import keeps thousands of records alive per batch; each time they age into the oldest
    generation the collector scans the whole heap (every loaded module, SQLAlchemy's registries),
    which cost a third of an import's time (benchmarks/import_manifest.py). Objects made in the
    block are collected as usual, so memory stays flat.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
