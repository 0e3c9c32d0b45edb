"""A background worker process (`python -m tests.runtime.slow_worker`) whose fake model takes
SLOW_FIT_S seconds to train, so that a test can kill it in the middle of an iteration."""

from __future__ import annotations

import os
import time
from typing import Any

from truthloop.ml.fake import FakeModel
from truthloop.runtime.background import run_from_environment

INTERVAL_S = 0.3


def _slow(fit: Any) -> Any:
    def slow_fit(self: FakeModel, *args: Any, **kwargs: Any) -> Any:
        time.sleep(float(os.environ["SLOW_FIT_S"]))
        return fit(self, *args, **kwargs)

    return slow_fit


if __name__ == "__main__":
    FakeModel.fit = _slow(FakeModel.fit)  # type: ignore[method-assign]
    run_from_environment(interval_s=INTERVAL_S, parent=None)
