"""The terms of a labeling job, each default and limit written once.

The service enforces them (`labeling.jobs.create_job` checks a job's terms, `labeling.tasks.submit`
the client id, automated labeling its target); the REST schema (`web/job_schemas.py`), the
portal's new-job form and `truthloop job create` take their defaults and bounds from here, so the
three cannot disagree (tests/labeling/test_job_terms.py holds them to it).

Plain values, no imports: the CLI reads its option defaults from here without importing the
services behind them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WholeNumberTerm:
    """A term that is a count of something: its default and the range the service accepts
    (`low` and `high` included; `high` None: no upper bound). `what` names it in errors."""

    what: str
    default: int
    low: int = 1
    high: int | None = None

    def problem(self, value: object) -> str | None:
        """What is wrong with `value` as this term, or None when it is fine."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < self.low
            or (self.high is not None and value > self.high)
        ):
            bounds = f"between {self.low} and {self.high}" if self.high else f"at least {self.low}"
            return f"{self.what} must be a whole number {bounds}, not {value!r}"
        return None


# Beyond a hundred answers an item costs more than any consolidation gains from them; the bound
# also keeps one request from creating millions of task slots.
WORKERS_PER_ITEM = WholeNumberTerm("workers per item", 1, high=100)
# Ground Truth's default and its limit for one task's working time (FORMATS.md §1.7).
TASK_TIME_LIMIT_S = WholeNumberTerm("task time limit (seconds)", 300, high=28_800)
# Ten days for a task to be picked up, as Ground Truth gives a private team.
TASK_LIFETIME_S = WholeNumberTerm("task lifetime (seconds)", 864_000)
MAX_CONCURRENT_TASKS = WholeNumberTerm("max concurrent tasks per worker", 10, high=1000)

PRICE_PER_TASK = 0.0
VERIFICATION_CATEGORIES = ("correct", "incorrect")

# A submit's client id, made by the client so a retry is stored once; the submissions table
# keeps it in a String(128).
MAX_CLIENT_ID_CHARS = 128

# Automated labeling: the accuracy the machine labels must meet, and the confidence of the
# bound that certifies it (core/thresholds.py); both at least MIN_ACCURACY and below 1.
TARGET_ACCURACY = 0.95
BOUND_CONFIDENCE = 0.95
MIN_ACCURACY = 0.5
COMPUTE_PRICE_PER_HOUR = 0.0

# A feedback run: images per verification (or adjustment) job, and the confidence under which a
# model's proposal is left out.
FEEDBACK_BATCH_SIZE = 10
FEEDBACK_MIN_CONFIDENCE = 0.5
