"""Activation conditions: when a model's prediction starts a human loop, in the JSON schema of
Amazon A2I's `HumanLoopActivationConditions`.

The conditions are `{"Conditions": [...]}`. Each element is a simple condition
`{"ConditionType": ..., "ConditionParameters": {...}}` or a complex one `{"And": [...]}` /
`{"Or": [...]}` of at least two members; an And or Or may hold another (two levels), no more.
A request is reviewed when any top-level condition holds. Every node is evaluated, with no
short-circuit, because the record of the evaluation (A2I's
`humanTaskActivationConditionResults`) carries every node's `EvaluationResult`, and a reviewer
or an audit reads why a loop started, or why not.

The condition types:

- `Sampling` (`RandomSamplingPercentage`, 0.01 to 100): a share of the requests, chosen by the
  request and not by chance at evaluation time, so that resubmitting the same request gives the
  same outcome (as A2I promises). The caller passes a key for the request (for example the
  canonical JSON of its input); SHA-256 of the key and of the node's path (`Conditions[0].And[1]`)
  gives a point in [0, 100), and the node holds when the point is below the percentage. The
  path is in the hash so that two Sampling nodes draw independently (an And of two 50 % samples
  is a quarter of the requests, not a half); the percentage is not, so that raising it keeps
  every request sampled before and adds others. Moving a node moves its path and redraws it.
  Inside an And the share is of the requests that meet the other members.
- `ModerationLabelConfidenceCheck` (A2I's name for Rekognition moderation labels, applied here
  to truthloop's own predictions) and its alias `LabelConfidenceCheck`: a label name
  (`ModerationLabelName`, or `LabelName` for the alias; case-sensitive, `*` any label) and
  exactly one comparison (`ConfidenceEquals`, `ConfidenceLessThan`, `ConfidenceLessThanEquals`,
  `ConfidenceGreaterThan`, `ConfidenceGreaterThanEquals`, 0 to 100). It holds when some
  predicted label of that name has a confidence that meets the comparison. A prediction with
  no label of that name does not meet it, as in A2I, even for `ConfidenceLessThan`: a label the
  model did not predict has no confidence to compare. So `*` below 60 misses a prediction with
  no labels at all; `TopConfidenceCheck` is the rule that catches it.
- `TopConfidenceCheck` (truthloop's): the prediction's highest confidence, 0 to 100, meets one
  comparison; a prediction with no label counts as 0, so "the top score is below 50" reviews
  an image where the model found nothing.

No conditions at all (`None`, or an empty `Conditions` list) reviews every request, as A2I does
for a flow definition without them: leaving the rule out errs towards more review, never less.

A prediction is `Scored`: its labels with confidences on A2I's 0 to 100 scale.
`scored_from_value` makes one from truthloop's values (confidences 0 to 1, a person's label,
with none, counts as 100). The product is rounded to 9 decimal places, because 0.29 * 100 is
28.999999999999996 in floating point, which would fail `ConfidenceEquals: 29` and pass
`ConfidenceLessThan: 29`; no model's confidence means anything at the ninth decimal.

Anything the schema does not allow is refused with `ConditionError`, whose message names the
node by its path (`Conditions[0].Or[1].ConditionParameters.RandomSamplingPercentage`), says
what is wrong and what is allowed: an unknown condition type or key, a missing one, two
comparisons, a number out of range or not finite, a boolean where a number belongs. A rule
that is silently half-read would review the wrong requests with no one the wiser. At most 100
nodes and 64 KiB of JSON are read, so a stored rule cannot make every request slow.
`conditions_json` gives the checked form back for storage: the same JSON, label names in NFC.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from truthloop.core.text import normal_label, refusal, shown
from truthloop.core.types import Boxes, Classification, MultiLabel, Value, Verification

MAX_NODES = 100
MAX_JSON_CHARS = 65_536
MAX_NESTING = 2
"""How many And/Or may stand one inside another."""

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "ConfidenceEquals": lambda confidence, value: confidence == value,
    "ConfidenceLessThan": lambda confidence, value: confidence < value,
    "ConfidenceLessThanEquals": lambda confidence, value: confidence <= value,
    "ConfidenceGreaterThan": lambda confidence, value: confidence > value,
    "ConfidenceGreaterThanEquals": lambda confidence, value: confidence >= value,
}
LABEL_KEYS = {
    "ModerationLabelConfidenceCheck": "ModerationLabelName",
    "LabelConfidenceCheck": "LabelName",
}
"""The label-confidence condition types, each with the key that names its label."""
CONDITION_TYPES = ("Sampling", *LABEL_KEYS, "TopConfidenceCheck")
ANY_LABEL = "*"

_ONE_COMPARISON = "exactly one of " + ", ".join(COMPARISONS) + " (a number from 0 to 100)"
_NODE_SHAPE = "a condition is {ConditionType, ConditionParameters}, or one And or one Or list"


class ConditionError(ValueError):
    """Activation conditions the schema does not allow; the message names the node's path."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """One of the five comparison keys and its value (as given: an int stays an int)."""

    key: str
    value: float

    def holds(self, confidence: float) -> bool:
        return COMPARISONS[self.key](confidence, self.value)


@dataclass(frozen=True, slots=True)
class Sampling:
    percentage: float


@dataclass(frozen=True, slots=True)
class LabelCheck:
    """`ModerationLabelConfidenceCheck` or `LabelConfidenceCheck` (`condition_type`)."""

    condition_type: str
    label: str
    comparison: Comparison


@dataclass(frozen=True, slots=True)
class TopCheck:
    comparison: Comparison


@dataclass(frozen=True, slots=True)
class Combined:
    operator: Literal["And", "Or"]
    members: tuple[Condition, ...]


Condition: TypeAlias = Sampling | LabelCheck | TopCheck | Combined


@dataclass(frozen=True, slots=True)
class ActivationConditions:
    """Checked activation conditions; none at all reviews every request."""

    conditions: tuple[Condition, ...] = ()

    def evaluate(self, prediction: Scored | Value, request_key: str) -> Evaluation:
        return evaluate(self, prediction, request_key)


@dataclass(frozen=True, slots=True)
class Scored:
    """A prediction as the conditions see it: (label, confidence 0 to 100) pairs."""

    labels: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for label, confidence in self.labels:
            ok = isinstance(confidence, int | float) and not isinstance(confidence, bool)
            if not ok or not 0 <= confidence <= 100:
                raise ValueError(
                    f"the confidence of {shown(label)} must be a number from 0 to 100,"
                    f" not {confidence!r}"
                )
        object.__setattr__(
            self, "labels", tuple((normal_label(label), c) for label, c in self.labels)
        )

    @property
    def top(self) -> float:
        """The highest confidence; 0 when there is no label."""
        return max((confidence for _, confidence in self.labels), default=0.0)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Whether the loop starts, and A2I's `humanTaskActivationConditionResults`: the
    conditions' JSON with an `EvaluationResult` on every node."""

    activated: bool
    results: dict[str, Any]


def _percent(confidence: float | None) -> float:
    # None is a person's label: as sure as a label gets. See the module docstring on rounding.
    return 100.0 if confidence is None else round(confidence * 100, 9)


def scored_from_value(value: Value) -> Scored:
    """`value`'s labels on the 0-100 scale: a classification's label, each label of a
    multi-label, each box's label, a verification's verdict."""
    match value:
        case Classification(label=label, confidence=confidence):
            pairs = [(label, confidence)]
        case MultiLabel(labels=labels, confidences=confidences):
            pairs = list(zip(labels, confidences or (None,) * len(labels), strict=True))
        case Boxes(boxes=boxes):
            pairs = [(box.label, box.confidence) for box in boxes]
        case Verification(verdict=verdict, confidence=confidence):
            pairs = [(verdict, confidence)]
        case _:
            raise TypeError(f"not an annotation value: {value!r}")
    return Scored(tuple((label, _percent(confidence)) for label, confidence in pairs))


# --- parsing -------------------------------------------------------------------------------


class _Budget:
    """Counts the nodes read, so that a rule of a million nodes is refused at the 101st."""

    def __init__(self) -> None:
        self.nodes = 0

    def take(self, path: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConditionError(f"{path}: too many conditions; at most {MAX_NODES} nodes")


def parse_conditions(source: str | Mapping[str, Any] | None) -> ActivationConditions:
    """Checked activation conditions from their JSON (a string, or already parsed); None, or
    an empty `Conditions` list, reviews every request. Raises `ConditionError`."""
    if source is None:
        return ActivationConditions()
    document = _load(source) if isinstance(source, str) else source
    if not isinstance(document, Mapping):
        raise ConditionError(
            'activation conditions: must be a JSON object {"Conditions": [...]},'
            f" not {type(document).__name__}"
        )
    for key in document:
        if key != "Conditions":
            raise ConditionError(
                f"{key}: unknown key; the activation conditions hold only Conditions"
            )
    if "Conditions" not in document:
        raise ConditionError(
            "Conditions: missing; give a list of conditions (an empty one, or none at all,"
            " reviews every request)"
        )
    items = document["Conditions"]
    if not isinstance(items, list | tuple):
        raise ConditionError(
            f"Conditions: must be a list of conditions, not {type(items).__name__}"
        )
    budget = _Budget()
    return ActivationConditions(
        tuple(_node(item, f"Conditions[{i}]", 0, budget) for i, item in enumerate(items))
    )


def _load(text: str) -> Any:
    if len(text) > MAX_JSON_CHARS:
        raise ConditionError(
            f"activation conditions: {len(text)} characters of JSON; at most {MAX_JSON_CHARS}"
        )

    def no_constant(name: str) -> Any:
        raise ConditionError(f"activation conditions: {name} is not a JSON number")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # json.loads would keep the last of two equal keys; which one the author meant is
        # anyone's guess.
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise ConditionError(f"activation conditions: key {shown(key)} appears twice")
            found[key] = value
        return found

    try:
        return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as error:
        raise ConditionError(f"activation conditions: not valid JSON ({error})") from None
    except RecursionError:
        raise ConditionError("activation conditions: JSON nested too deep") from None


def _node(node: Any, path: str, depth: int, budget: _Budget) -> Condition:
    if not isinstance(node, Mapping):
        raise ConditionError(f"{path}: must be an object; {_NODE_SHAPE}")
    budget.take(path)
    if "And" in node and "Or" in node:
        raise ConditionError(f"{path}: holds both And and Or; {_NODE_SHAPE}")
    if "And" in node:
        return _combined(node, "And", path, depth, budget)
    if "Or" in node:
        return _combined(node, "Or", path, depth, budget)
    return _simple(node, path)


def _combined(
    node: Mapping[str, Any], operator: Literal["And", "Or"], path: str, depth: int, budget: _Budget
) -> Combined:
    for key in node:
        if key != operator:
            raise ConditionError(f"{path}.{key}: unknown key beside {operator}; {_NODE_SHAPE}")
    here = f"{path}.{operator}"
    if depth >= MAX_NESTING:
        raise ConditionError(
            f"{here}: And/Or nested too deep; they nest at most {MAX_NESTING} levels"
            " (an And or Or inside an And or Or)"
        )
    members = node[operator]
    if not isinstance(members, list | tuple):
        raise ConditionError(f"{here}: must be a list of conditions, not {type(members).__name__}")
    if len(members) < 2:
        raise ConditionError(
            f"{here}: has {len(members)} member(s); an {operator} needs at least 2"
        )
    return Combined(
        operator,
        tuple(_node(m, f"{here}[{i}]", depth + 1, budget) for i, m in enumerate(members)),
    )


def _simple(node: Mapping[str, Any], path: str) -> Condition:
    for key in node:
        if key not in ("ConditionType", "ConditionParameters"):
            raise ConditionError(f"{path}.{key}: unknown key; {_NODE_SHAPE}")
    for key in ("ConditionType", "ConditionParameters"):
        if key not in node:
            raise ConditionError(f"{path}: missing {key}; {_NODE_SHAPE}")
    kind = node["ConditionType"]
    if not isinstance(kind, str) or kind not in CONDITION_TYPES:
        shown_kind = shown(kind) if isinstance(kind, str) else repr(kind)
        raise ConditionError(
            f"{path}.ConditionType: unknown condition type {shown_kind};"
            f" allowed: {', '.join(CONDITION_TYPES)}"
        )
    params = node["ConditionParameters"]
    here = f"{path}.ConditionParameters"
    if not isinstance(params, Mapping):
        raise ConditionError(f"{here}: must be an object, not {type(params).__name__}")
    if kind == "Sampling":
        _known_keys(params, here, kind, ("RandomSamplingPercentage",))
        if "RandomSamplingPercentage" not in params:
            raise ConditionError(
                f"{here}: missing RandomSamplingPercentage (a number from 0.01 to 100)"
            )
        key = f"{here}.RandomSamplingPercentage"
        return Sampling(_number(params["RandomSamplingPercentage"], key, 0.01, 100))
    if kind == "TopConfidenceCheck":
        _known_keys(params, here, kind, tuple(COMPARISONS))
        return TopCheck(_comparison(params, here))
    return _label_check(kind, params, here)


def _label_check(kind: str, params: Mapping[str, Any], path: str) -> LabelCheck:
    name_key = LABEL_KEYS[kind]
    _known_keys(params, path, kind, (name_key, *COMPARISONS))
    if name_key not in params:
        raise ConditionError(f"{path}: missing {name_key} (a label name, or * for any label)")
    name = params[name_key]
    if not isinstance(name, str) or not name:
        raise ConditionError(
            f"{path}.{name_key}: must be a label name, or * for any label, not {name!r}"
        )
    problem = refusal(name)
    if problem is not None:
        raise ConditionError(f"{path}.{name_key}: {problem}")
    return LabelCheck(kind, normal_label(name), _comparison(params, path))


def _known_keys(params: Mapping[str, Any], path: str, kind: str, allowed: tuple[str, ...]) -> None:
    for key in params:
        if key not in allowed:
            raise ConditionError(
                f"{path}.{key}: unknown parameter of {kind}; allowed: {', '.join(allowed)}"
            )


def _comparison(params: Mapping[str, Any], path: str) -> Comparison:
    keys = [key for key in COMPARISONS if key in params]
    if len(keys) != 1:
        given = f"has {' and '.join(keys)}" if keys else "has no comparison"
        raise ConditionError(f"{path}: {given}; give {_ONE_COMPARISON}")
    key = keys[0]
    return Comparison(key, _number(params[key], f"{path}.{key}", 0, 100))


def _number(value: Any, path: str, low: float, high: float) -> float:
    allowed = f"a number from {low:g} to {high:g}"
    # bool is an int in Python, and `true` would read as 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(f"{path}: must be {allowed}, not {value!r}")
    # Ints are compared as they are: float() of a huge one would overflow.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConditionError(f"{path}: must be {allowed}, not {value!r}")
    if not low <= value <= high:
        raise ConditionError(f"{path}: {value!r} is out of range; must be {allowed}")
    return value


# --- the checked form and evaluation ---------------------------------------------------------


def conditions_json(parsed: ActivationConditions) -> dict[str, Any]:
    """The checked conditions as A2I's JSON, for storage; `parse_conditions` reads it back."""
    return {"Conditions": [_node_json(condition) for condition in parsed.conditions]}


def _node_json(condition: Condition) -> dict[str, Any]:
    match condition:
        case Sampling(percentage=percentage):
            params: dict[str, Any] = {"RandomSamplingPercentage": percentage}
            return {"ConditionType": "Sampling", "ConditionParameters": params}
        case LabelCheck(condition_type=kind, label=label, comparison=comparison):
            params = {LABEL_KEYS[kind]: label, comparison.key: comparison.value}
            return {"ConditionType": kind, "ConditionParameters": params}
        case TopCheck(comparison=comparison):
            params = {comparison.key: comparison.value}
            return {"ConditionType": "TopConfidenceCheck", "ConditionParameters": params}
        case Combined(operator=operator, members=members):
            return {operator: [_node_json(member) for member in members]}
    raise TypeError(f"not a condition: {condition!r}")


def sampling_point(request_key: str, path: str) -> float:
    """The request's point in [0, 100) for the Sampling node at `path`: the same for the same
    request and node, every time, and uniform over requests."""
    text = f"truthloop activation sampling\0{path}\0{request_key}"
    # surrogatepass: a key from JSON may hold a lone surrogate, which strict UTF-8 refuses.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    # 53 bits, as many as a float holds; int / int rounds correctly, so the largest point is
    # 100 - 1.1e-14, which is still below 100, and 100 % samples everything.
    return (int.from_bytes(digest[:8], "big") >> 11) * 100 / 2**53


def evaluate(
    conditions: ActivationConditions, prediction: Scored | Value, request_key: str
) -> Evaluation:
    """Whether `prediction` for the request `request_key` starts a human loop, and the
    record of every node's result (see the module docstring)."""
    scored = prediction if isinstance(prediction, Scored) else scored_from_value(prediction)
    evaluated = [
        _evaluate(condition, f"Conditions[{i}]", scored, request_key)
        for i, condition in enumerate(conditions.conditions)
    ]
    activated = not evaluated or any(result for result, _ in evaluated)
    return Evaluation(activated, {"Conditions": [record for _, record in evaluated]})


def _evaluate(
    condition: Condition, path: str, prediction: Scored, request_key: str
) -> tuple[bool, dict[str, Any]]:
    if isinstance(condition, Combined):
        here = f"{path}.{condition.operator}"
        # A list, not a generator inside all()/any(): every member is evaluated and recorded.
        members = [
            _evaluate(member, f"{here}[{i}]", prediction, request_key)
            for i, member in enumerate(condition.members)
        ]
        results = [result for result, _ in members]
        result = all(results) if condition.operator == "And" else any(results)
        record = {condition.operator: [r for _, r in members], "EvaluationResult": result}
        return result, record
    result = _holds(condition, path, prediction, request_key)
    return result, {**_node_json(condition), "EvaluationResult": result}


def _holds(
    condition: Sampling | LabelCheck | TopCheck, path: str, prediction: Scored, request_key: str
) -> bool:
    match condition:
        case Sampling(percentage=percentage):
            return sampling_point(request_key, path) < percentage
        case LabelCheck(label=name, comparison=comparison):
            return any(
                comparison.holds(confidence)
                for label, confidence in prediction.labels
                if name == ANY_LABEL or label == name
            )
        case TopCheck(comparison=comparison):
            return comparison.holds(prediction.top)
    raise TypeError(f"not a condition: {condition!r}")
