"""The parameters of a continuous-improvement pipeline, each name, type, default and range
written once.

The seed (FORMATS.md §4.2) keeps ten parameters in SSM Parameter Store, every one a string:
"true", "720", "0.8". truthloop keeps the same names and defaults, and adds two of its own:
whether a new version starts from the deployed version's weights, and the share of the dataset
held out for the test when it has no test split. `parse_value` takes the string forms the seed
stores as well as typed values, so a value copied from the seed's store, typed on the command
line or sent as JSON is read the same way, and refuses a bad one with a `ParameterError` that
names the parameter and what it allows.

The string forms read strictly. A flag is "true" or "false" (any case): "yes", "on" and "1"
are refused rather than read, since a reader of the seed's store would not read them as true
either, and a person who typed one should learn that it changed nothing. A whole number is
digits only ("720", not "720.0" nor "7_20"); a number is a decimal ("0.8", "70", "1e-1"), never
NaN or an infinity, which no range contains. A bool is never a number, though Python counts
True as 1. Surrounding spaces are dropped: they come from typing, never from meaning.

Plain values, no imports outside the standard library: the CLI and the REST schema read the
defaults and ranges from here without importing the pipeline behind them.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

Value = bool | int | float
Kind = type[bool] | type[int] | type[float]

# Longer text is no value any parameter allows; the cap also keeps int() from its own refusal
# of numbers over 4,300 digits, and an error message from quoting a page.
_MOST_CHARS = 40

_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class ParameterError(ValueError):
    """A parameter name that does not exist, or a value it does not allow; `parameter` is the
    name as given."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter: its `name` as the seed spells it, its `kind` (bool, int or float), its
    `default`, the range it allows (`low` to `high`, both included; None for a flag), the
    `unit` of its values ("" when none) and what it does, in one line."""

    name: str
    kind: Kind
    default: Value
    meaning: str
    low: float | None = None
    high: float | None = None
    unit: str = ""

    @property
    def allowed(self) -> str:
        """What the parameter allows, in the words errors and tables use."""
        if self.kind is bool:
            return "true or false"
        what = "a whole number" if self.kind is int else "a number"
        unit = f" {self.unit}" if self.unit else ""
        return f"{what} from {_plain(self.low)} to {_plain(self.high)}{unit}"

    def parse(self, value: object) -> Value:
        """`value`, a typed value or the string the seed stores, as this parameter's type;
        a `ParameterError` when it is not one this parameter allows."""
        if isinstance(value, str):
            typed = _typed(self.kind, value.strip()) if len(value) <= _MOST_CHARS else None
        else:
            typed = _typed(self.kind, value)
        if typed is None or not (_at_least(typed, self.low) and _at_most(typed, self.high)):
            raise ParameterError(self.name, self._refusal(value))
        return typed

    def problem(self, value: object) -> str | None:
        """What is wrong with `value`, a typed value, as this parameter, or None when it is
        fine. A string is refused: code past the parameter store holds typed values, and
        `parse` is what reads the seed's strings."""
        if isinstance(value, str):
            return self._refusal(value)
        try:
            self.parse(value)
        except ParameterError as refused:
            return str(refused)
        return None

    def _refusal(self, value: object) -> str:
        shown = repr(value)
        shown = shown if len(shown) <= _MOST_CHARS else f"{shown[: _MOST_CHARS - 3]}..."
        return f"{self.name} must be {self.allowed}, not {shown}"

    def text(self, value: Value) -> str:
        """`value` (checked) as the seed's store holds it: "true", "720", "0.8"."""
        parsed = self.parse(value)
        if isinstance(parsed, bool):
            return "true" if parsed else "false"
        return repr(parsed)


def _typed(kind: Kind, value: object) -> Value | None:
    """`value` as `kind`, or None when it is not one; the range is checked by the caller."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return None
    if isinstance(value, bool):  # True is an int to Python, never a count or a score here
        return None
    if kind is int:
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, str) and _WHOLE.fullmatch(value) else None
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        return None
    if not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a whole number past the largest float: in no range
        return None
    return number if math.isfinite(number) else None


def _at_least(value: Value, low: float | None) -> bool:
    return low is None or value >= low


def _at_most(value: Value, high: float | None) -> bool:
    return high is None or value <= high


def _plain(bound: float | None) -> str:
    """A bound as people write it: 10,080 and 0.8, not 10080.0."""
    if bound is None:
        return "any"
    return f"{bound:,.0f}" if float(bound).is_integer() else f"{bound:,}"


# The seed's ten, as its stack creates them (FORMATS.md §4.2).
AUTOMATIC_TRAINING = Parameter(
    "Enable-Automatic-Training", bool, True, "check on a schedule whether to train a new version"
)
# At least a minute, EventBridge's finest rate; at most a week: a slower check is as good as
# none, which the flag above says plainly.
TRAINING_POLL_FREQUENCY = Parameter(
    "Automatic-Training-Poll-Frequency",
    int,
    720,
    "how often the schedule checks whether to train",
    1,
    10_080,
    "minutes",
)
# At least one new image: with none, every tick would train the same data again. At most
# Rekognition's largest training manifest, 250,000 lines.
MINIMUM_UNTRAINED_IMAGES = Parameter(
    "Minimum-Untrained-Images",
    int,
    10,
    "new labeled images needed since the deployed version before a version trains",
    1,
    250_000,
    "images",
)
# F1 is a share: 0 deploys any version that trains, 1 only a perfect one.
MINIMUM_F1_SCORE = Parameter(
    "Minimum-F1-Score",
    float,
    0.8,
    "the F1 on the test split a new version needs to be deployed",
    0,
    1,
)
# Serving workers on one machine: past 16 one host gains nothing, and the bound keeps a slip
# (100 for 10) from starting a hundred processes.
MINIMUM_INFERENCE_UNITS = Parameter(
    "Minimum-Inference-Units",
    int,
    1,
    "serving workers a deployed version starts with",
    1,
    16,
    "workers",
)
# Rekognition's confidences are percentages: 0 reviews nothing, 100 all but the certain.
MINIMUM_CONFIDENCE = Parameter(
    "Minimum-Label-Detection-Confidence",
    float,
    70.0,
    "a detection whose top confidence is below this goes to human review",
    0,
    100,
    "%",
)
REVIEW = Parameter(
    "Enable-A2I-Workflow", bool, True, "send low-confidence detections to human review"
)
AUTOMATIC_SAMPLING = Parameter(
    "Enable-Automatic-Human-Sampling",
    bool,
    True,
    "audit a sample of detections on a schedule",
)
SAMPLING_FREQUENCY = Parameter(
    "Automatic-Human-Sampling-Frequency",
    int,
    720,
    "how often the schedule picks detections to audit",
    1,
    10_080,
    "minutes",
)
# 1 audits every detection; past a million an audit comes so rarely that its estimate of the
# deployed version's accuracy says nothing.
SAMPLING_INTERVAL = Parameter(
    "Human-Sampling-Interval",
    int,
    1000,
    "every this-many-th detection since the last sample is audited",
    1,
    1_000_000,
    "detections",
)

# truthloop's own.
TRAIN_FROM_DEPLOYED = Parameter(
    "Train-From-Deployed-Version",
    bool,
    True,
    "start a new version from the deployed version's weights (false: from scratch)",
)
# Rekognition's AutoCreate moves 20 % of the training dataset to the test dataset (80/20,
# FORMATS.md §3.1). At least 1 %; at most half, so that a version trains on at least as much
# as it is tested on. The split holds out at least one image however small the share
# (`core.holdout`).
TEST_SPLIT_PERCENTAGE = Parameter(
    "Test-Split-Percentage",
    float,
    20.0,
    "labeled images held out to test a version when the dataset has no test split",
    1,
    50,
    "%",
)

# Open review loops past which subscribers are told the reviewers fall behind (once per
# crossing, not per tick). At least 1; a backlog past a million is a broken flow, not a queue.
REVIEW_BACKLOG_ALERT = Parameter(
    "Review-Backlog-Alert",
    int,
    100,
    "open review loops at which subscribers are told the backlog is growing",
    1,
    1_000_000,
    "loops",
)

PARAMETERS: tuple[Parameter, ...] = (
    AUTOMATIC_TRAINING,
    TRAINING_POLL_FREQUENCY,
    MINIMUM_UNTRAINED_IMAGES,
    MINIMUM_F1_SCORE,
    MINIMUM_INFERENCE_UNITS,
    MINIMUM_CONFIDENCE,
    REVIEW,
    AUTOMATIC_SAMPLING,
    SAMPLING_FREQUENCY,
    SAMPLING_INTERVAL,
    TRAIN_FROM_DEPLOYED,
    TEST_SPLIT_PERCENTAGE,
    REVIEW_BACKLOG_ALERT,
)
"""Every parameter, the seed's ten in its order, then truthloop's own."""

_BY_NAME = {p.name: p for p in PARAMETERS}


def parameter(name: str) -> Parameter:
    """The parameter called `name` (spelled exactly as the seed does); a `ParameterError`
    listing the known names, and the likeliest one, when there is none."""
    found = _BY_NAME.get(name)
    if found is not None:
        return found
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in _BY_NAME], n=1)
    hint = next((f" (did you mean {n}?)" for n in _BY_NAME if close and n.lower() == close[0]), "")
    raise ParameterError(
        name, f"unknown parameter {name!r}{hint}; the parameters are {', '.join(_BY_NAME)}"
    )


def parse_value(name: str, value: object) -> Value:
    """`value` (typed, or the string the seed stores) as the parameter `name` holds it."""
    return parameter(name).parse(value)


def defaults() -> dict[str, Value]:
    """Every parameter's default, by name, in `PARAMETERS`' order."""
    return {p.name: p.default for p in PARAMETERS}


def describe() -> list[dict[str, str]]:
    """One row per parameter for a table: name, type, default (as stored), allowed, unit and
    meaning, all text."""
    return [
        {
            "name": p.name,
            "type": p.kind.__name__,
            "default": p.text(p.default),
            "allowed": p.allowed,
            "unit": p.unit,
            "meaning": p.meaning,
        }
        for p in PARAMETERS
    ]
