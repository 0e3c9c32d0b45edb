"""A2I activation conditions: what starts a human loop, the record of why, and what is refused."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from truthloop.core.activation import (
    MAX_JSON_CHARS,
    MAX_NODES,
    ActivationConditions,
    ConditionError,
    Scored,
    conditions_json,
    evaluate,
    parse_conditions,
    sampling_point,
    scored_from_value,
)
from truthloop.core.types import Box, Boxes, Classification, MultiLabel, Verification

N = 10_000


def simple(kind: str, **params: Any) -> dict[str, Any]:
    return {"ConditionType": kind, "ConditionParameters": params}


def label_check(name: Any, comparison: str, value: Any) -> dict[str, Any]:
    return simple("ModerationLabelConfidenceCheck", ModerationLabelName=name, **{comparison: value})


def top_check(comparison: str, value: Any) -> dict[str, Any]:
    return simple("TopConfidenceCheck", **{comparison: value})


def sample(percentage: Any) -> dict[str, Any]:
    return simple("Sampling", RandomSamplingPercentage=percentage)


def activated(conditions: list[dict[str, Any]], prediction: Scored, key: str = "k") -> bool:
    return evaluate(parse_conditions({"Conditions": conditions}), prediction, key).activated


def one(label: str, confidence: float) -> Scored:
    return Scored(((label, confidence),))


def within_binomial_bound(count: int, n: int, percentage: float) -> bool:
    """`count` of `n` lies within 4.5 standard deviations of a Binomial(n, p) mean."""
    p = percentage / 100
    return abs(count - n * p) <= 4.5 * math.sqrt(n * p * (1 - p))


# --- comparisons ---------------------------------------------------------------------------

COMPARISON_TABLE = [
    ("ConfidenceLessThan", 50, 49.99, True),
    ("ConfidenceLessThan", 50, 50, False),
    ("ConfidenceLessThan", 50, 50.01, False),
    ("ConfidenceLessThanEquals", 50, 50, True),
    ("ConfidenceLessThanEquals", 50, 50.01, False),
    ("ConfidenceGreaterThan", 50, 50, False),
    ("ConfidenceGreaterThan", 50, 50.01, True),
    ("ConfidenceGreaterThanEquals", 50, 50, True),
    ("ConfidenceGreaterThanEquals", 50, 49.99, False),
    ("ConfidenceEquals", 50, 50, True),
    ("ConfidenceEquals", 50, 49.99, False),
    ("ConfidenceEquals", 50.5, 50.5, True),
    ("ConfidenceLessThanEquals", 0, 0, True),
    ("ConfidenceLessThan", 0, 0, False),
    ("ConfidenceGreaterThanEquals", 100, 100, True),
    ("ConfidenceGreaterThan", 100, 100, False),
]


@pytest.mark.parametrize(("comparison", "value", "confidence", "expected"), COMPARISON_TABLE)
def test_each_comparison_at_its_boundary(
    comparison: str, value: float, confidence: float, expected: bool
) -> None:
    prediction = one("cat", confidence)
    assert activated([label_check("cat", comparison, value)], prediction) is expected
    assert activated([label_check("*", comparison, value)], prediction) is expected
    assert activated([top_check(comparison, value)], prediction) is expected


def test_label_confidence_check_is_an_alias_with_label_name() -> None:
    alias = simple("LabelConfidenceCheck", LabelName="cat", ConfidenceLessThan=50)
    assert activated([alias], one("cat", 40))
    assert not activated([alias], one("cat", 60))
    assert not activated([alias], one("dog", 40))


# --- label names -----------------------------------------------------------------------------

CAT_AND_DOG = Scored((("cat", 40.0), ("dog", 90.0)))

LABEL_TABLE = [
    ("*", "ConfidenceLessThan", 50, True),  # cat is below 50
    ("*", "ConfidenceGreaterThan", 95, False),
    ("cat", "ConfidenceLessThan", 50, True),
    ("dog", "ConfidenceLessThan", 50, False),
    ("dog", "ConfidenceGreaterThan", 50, True),
    ("Cat", "ConfidenceLessThan", 50, False),  # case-sensitive
    ("bird", "ConfidenceLessThan", 50, False),  # no such label: false, as in A2I
    ("bird", "ConfidenceGreaterThanEquals", 0, False),
    ("bird", "ConfidenceLessThanEquals", 100, False),
]


@pytest.mark.parametrize(("name", "comparison", "value", "expected"), LABEL_TABLE)
def test_named_and_any_labels(name: str, comparison: str, value: float, expected: bool) -> None:
    assert activated([label_check(name, comparison, value)], CAT_AND_DOG) is expected


def test_any_box_with_the_label_meets_the_check() -> None:
    boxes = Boxes((Box("cat", 0, 0, 5, 5, 0.9), Box("cat", 9, 9, 5, 5, 0.3)))
    assert activated([label_check("cat", "ConfidenceLessThan", 50)], scored_from_value(boxes))
    assert activated([label_check("cat", "ConfidenceGreaterThan", 50)], scored_from_value(boxes))
    assert not activated([label_check("cat", "ConfidenceEquals", 50)], scored_from_value(boxes))


def test_label_names_compare_in_nfc() -> None:
    # The condition spells é as e plus a combining accent; labels are stored composed.
    condition = label_check("cafe\u0301", "ConfidenceLessThan", 50)
    assert activated([condition], scored_from_value(Classification("café", 0.4)))
    stored = conditions_json(parse_conditions({"Conditions": [condition]}))
    assert stored["Conditions"][0]["ConditionParameters"]["ModerationLabelName"] == "café"


# --- no labels -------------------------------------------------------------------------------

NO_LABEL_TABLE = [
    (label_check("*", "ConfidenceLessThan", 100), False),
    (label_check("*", "ConfidenceGreaterThanEquals", 0), False),
    (label_check("cat", "ConfidenceLessThan", 50), False),
    (top_check("ConfidenceLessThan", 50), True),
    (top_check("ConfidenceEquals", 0), True),
    (top_check("ConfidenceGreaterThan", 0), False),
]


@pytest.mark.parametrize(("condition", "expected"), NO_LABEL_TABLE)
def test_a_prediction_without_labels(condition: dict[str, Any], expected: bool) -> None:
    assert activated([condition], Scored()) is expected
    assert activated([condition], scored_from_value(Boxes(()))) is expected


def test_top_confidence_is_the_highest_label() -> None:
    below = top_check("ConfidenceLessThan", 50)
    assert not activated([below], CAT_AND_DOG)  # dog at 90 is the top
    assert activated([below], Scored((("cat", 40.0), ("dog", 45.0))))
    assert Scored().top == 0
    assert CAT_AND_DOG.top == 90


# --- what a prediction is ----------------------------------------------------------------------

SCORED_TABLE = [
    (Classification("cat", 0.29), (("cat", 29.0),)),  # not 28.999999999999996
    (Classification("cat", None), (("cat", 100.0),)),  # a person's label
    (Classification("cat", 0.0), (("cat", 0.0),)),
    (MultiLabel(("a", "b"), (0.5, None)), (("a", 50.0), ("b", 100.0))),
    (MultiLabel(("a", "b")), (("a", 100.0), ("b", 100.0))),
    (Boxes((Box("a", 0, 0, 1, 1, 0.07), Box("b", 0, 0, 1, 1))), (("a", 7.0), ("b", 100.0))),
    (Boxes(()), ()),
    (Verification("bad", 1, 0.8), (("bad", 80.0),)),
]


@pytest.mark.parametrize(("value", "labels"), SCORED_TABLE)
def test_scored_from_value(value: Any, labels: tuple[tuple[str, float], ...]) -> None:
    assert scored_from_value(value) == Scored(labels)


def test_rounding_keeps_equals_exact() -> None:
    assert activated(
        [top_check("ConfidenceEquals", 29)], scored_from_value(Classification("a", 0.29))
    )
    assert not activated(
        [top_check("ConfidenceLessThan", 29)], scored_from_value(Classification("a", 0.29))
    )


@pytest.mark.parametrize("confidence", [-1, 100.01, math.nan, math.inf, True, "50"])
def test_scored_refuses_confidences_off_the_scale(confidence: Any) -> None:
    with pytest.raises(ValueError, match="from 0 to 100"):
        Scored((("cat", confidence),))


def test_evaluate_takes_a_value_too() -> None:
    parsed = parse_conditions({"Conditions": [top_check("ConfidenceLessThan", 50)]})
    assert evaluate(parsed, Classification("cat", 0.4), "k").activated
    assert not evaluate(parsed, Classification("cat", 0.6), "k").activated
    assert parsed.evaluate(Classification("cat", 0.4), "k") == evaluate(
        parsed, Classification("cat", 0.4), "k"
    )


# --- And, Or, and the record ---------------------------------------------------------------

LOW = label_check("*", "ConfidenceLessThan", 60)
HIGH = label_check("*", "ConfidenceGreaterThanEquals", 60)
ALWAYS = sample(100)
TOP_LOW = top_check("ConfidenceLessThan", 50)

LOGIC_TABLE = [
    ([{"And": [LOW, ALWAYS]}], 40, True),
    ([{"And": [LOW, ALWAYS]}], 70, False),
    ([{"And": [LOW, HIGH]}], 40, False),
    ([{"Or": [LOW, HIGH]}], 40, True),
    ([{"Or": [LOW, TOP_LOW]}], 70, False),
    ([{"Or": [LOW, {"And": [HIGH, ALWAYS]}]}], 70, True),
    ([{"And": [ALWAYS, {"Or": [LOW, TOP_LOW]}]}], 70, False),
    ([{"And": [ALWAYS, {"Or": [LOW, TOP_LOW]}]}], 55, True),
    ([LOW, HIGH], 70, True),  # any top-level condition activates
    ([LOW, TOP_LOW], 70, False),
]


@pytest.mark.parametrize(("conditions", "confidence", "expected"), LOGIC_TABLE)
def test_and_or(conditions: list[dict[str, Any]], confidence: float, expected: bool) -> None:
    assert activated(conditions, one("cat", confidence)) is expected


def with_result(node: dict[str, Any], result: bool) -> dict[str, Any]:
    return {**node, "EvaluationResult": result}


def test_the_record_carries_every_nodes_result() -> None:
    # The FORMATS.md pattern, with the audit sample at 100 % so that the record is fixed.
    conditions = [{"Or": [LOW, {"And": [ALWAYS, HIGH]}]}, TOP_LOW]
    evaluation = evaluate(parse_conditions({"Conditions": conditions}), one("cat", 70), "k")
    assert evaluation.activated
    assert evaluation.results == {
        "Conditions": [
            {
                "Or": [
                    with_result(LOW, False),
                    {
                        "And": [with_result(ALWAYS, True), with_result(HIGH, True)],
                        "EvaluationResult": True,
                    },
                ],
                "EvaluationResult": True,
            },
            with_result(TOP_LOW, False),
        ]
    }


def test_no_short_circuit_every_member_is_recorded() -> None:
    conditions = [{"And": [TOP_LOW, ALWAYS]}, {"Or": [ALWAYS, TOP_LOW]}]
    evaluation = evaluate(parse_conditions({"Conditions": conditions}), one("cat", 90), "k")
    first, second = evaluation.results["Conditions"]
    assert [m["EvaluationResult"] for m in first["And"]] == [False, True]
    assert first["EvaluationResult"] is False
    assert [m["EvaluationResult"] for m in second["Or"]] == [True, False]
    assert second["EvaluationResult"] is True
    assert evaluation.activated


def test_the_record_is_json() -> None:
    conditions = [{"Or": [LOW, {"And": [sample(5), HIGH]}]}]
    evaluation = evaluate(
        parse_conditions(json.dumps({"Conditions": conditions})), one("a", 1), "k"
    )
    assert json.loads(json.dumps(evaluation.results)) == evaluation.results


# --- no conditions -------------------------------------------------------------------------


@pytest.mark.parametrize("source", [None, {"Conditions": []}, '{"Conditions": []}'])
def test_no_conditions_review_every_request(source: Any) -> None:
    parsed = parse_conditions(source)
    assert parsed == ActivationConditions()
    for prediction in (Scored(), one("cat", 100)):
        evaluation = evaluate(parsed, prediction, "k")
        assert evaluation.activated
        assert evaluation.results == {"Conditions": []}
    assert conditions_json(parsed) == {"Conditions": []}


# --- the checked form ------------------------------------------------------------------------


def test_conditions_json_round_trips() -> None:
    source = {
        "Conditions": [
            {"Or": [LOW, {"And": [sample(5), HIGH]}]},
            simple("LabelConfidenceCheck", LabelName="dog", ConfidenceEquals=12.5),
            top_check("ConfidenceLessThanEquals", 0),
        ]
    }
    parsed = parse_conditions(source)
    assert conditions_json(parsed) == source
    assert parse_conditions(json.dumps(source)) == parsed
    assert parse_conditions(conditions_json(parsed)) == parsed


def test_nesting_two_levels_and_exactly_the_node_limit_are_allowed() -> None:
    parse_conditions({"Conditions": [{"Or": [{"And": [LOW, HIGH]}, {"And": [LOW, HIGH]}]}]})
    parse_conditions({"Conditions": [ALWAYS] * MAX_NODES})


# --- refusals --------------------------------------------------------------------------------

COMPARE_ALL = "ConfidenceEquals, ConfidenceLessThan, ConfidenceLessThanEquals"
REFUSALS: list[tuple[Any, str, str]] = [
    ({"Conditions": {}}, "Conditions", "must be a list"),
    ({"Conditions": "x"}, "Conditions", "must be a list"),
    ({}, "Conditions", "missing"),
    ({"Conditions": [], "Extra": 1}, "Extra", "only Conditions"),
    ({"Conditions": [5]}, "Conditions[0]", "must be an object"),
    ({"Conditions": [simple("Foo")]}, "Conditions[0].ConditionType", "allowed: Sampling, Moder"),
    (
        {"Conditions": [{"ConditionType": 3, "ConditionParameters": {}}]},
        "Conditions[0].ConditionType",
        "unknown condition type 3",
    ),
    ({"Conditions": [{"ConditionType": "Sampling"}]}, "Conditions[0]", "missing ConditionParam"),
    ({"Conditions": [{"ConditionParameters": {}}]}, "Conditions[0]", "missing ConditionType"),
    ({"Conditions": [{**ALWAYS, "Extra": 1}]}, "Conditions[0].Extra", "unknown key"),
    (
        {"Conditions": [{"ConditionType": "Sampling", "ConditionParameters": [5]}]},
        "Conditions[0].ConditionParameters",
        "must be an object",
    ),
    ({"Conditions": [simple("Sampling")]}, "Conditions[0].ConditionParameters", "missing Random"),
    (
        {"Conditions": [simple("Sampling", Percentage=5)]},
        "Conditions[0].ConditionParameters.Percentage",
        "unknown parameter of Sampling; allowed: RandomSamplingPercentage",
    ),
    *(
        (
            {"Conditions": [sample(bad)]},
            "Conditions[0].ConditionParameters.RandomSamplingPercentage",
            "a number from 0.01 to 100",
        )
        for bad in (0, 0.009, 100.5, -5, 10**400, True, "5", None, math.nan, math.inf)
    ),
    (
        {"Conditions": [simple("ModerationLabelConfidenceCheck", ConfidenceLessThan=5)]},
        "Conditions[0].ConditionParameters",
        "missing ModerationLabelName",
    ),
    (
        {
            "Conditions": [
                simple("ModerationLabelConfidenceCheck", LabelName="a", ConfidenceLessThan=5)
            ]
        },
        "Conditions[0].ConditionParameters.LabelName",
        "allowed: ModerationLabelName, " + COMPARE_ALL,
    ),
    (
        {"Conditions": [simple("LabelConfidenceCheck", ModerationLabelName="a")]},
        "Conditions[0].ConditionParameters.ModerationLabelName",
        "allowed: LabelName, " + COMPARE_ALL,
    ),
    *(
        (
            {"Conditions": [label_check(bad, "ConfidenceLessThan", 5)]},
            "Conditions[0].ConditionParameters.ModerationLabelName",
            "must be a label name, or * for any label",
        )
        for bad in ("", 5, None, ["a"])
    ),
    (
        {"Conditions": [label_check("c\x00t", "ConfidenceLessThan", 5)]},
        "Conditions[0].ConditionParameters.ModerationLabelName",
        "U+0000 (NUL)",
    ),
    (
        {"Conditions": [simple("ModerationLabelConfidenceCheck", ModerationLabelName="a")]},
        "Conditions[0].ConditionParameters",
        "has no comparison; give exactly one of " + COMPARE_ALL,
    ),
    (
        {
            "Conditions": [
                simple(
                    "ModerationLabelConfidenceCheck",
                    ModerationLabelName="a",
                    ConfidenceLessThan=5,
                    ConfidenceGreaterThan=1,
                )
            ]
        },
        "Conditions[0].ConditionParameters",
        "has ConfidenceLessThan and ConfidenceGreaterThan; give exactly one",
    ),
    *(
        (
            {"Conditions": [top_check("ConfidenceGreaterThan", bad)]},
            "Conditions[0].ConditionParameters.ConfidenceGreaterThan",
            "a number from 0 to 100",
        )
        for bad in (101, -1, -0.001, False, None, "50", math.nan)
    ),
    (
        {"Conditions": [simple("TopConfidenceCheck", LabelName="a", ConfidenceLessThan=5)]},
        "Conditions[0].ConditionParameters.LabelName",
        "unknown parameter of TopConfidenceCheck",
    ),
    (
        {"Conditions": [simple("TopConfidenceCheck")]},
        "Conditions[0].ConditionParameters",
        "has no comparison",
    ),
    ({"Conditions": [{"And": [LOW]}]}, "Conditions[0].And", "an And needs at least 2"),
    ({"Conditions": [{"Or": []}]}, "Conditions[0].Or", "an Or needs at least 2"),
    ({"Conditions": [{"And": LOW}]}, "Conditions[0].And", "must be a list"),
    ({"Conditions": [{"And": [LOW, HIGH], "Or": [LOW, HIGH]}]}, "Conditions[0]", "both And and Or"),
    (
        {"Conditions": [{"And": [LOW, HIGH], "ConditionType": "Sampling"}]},
        "Conditions[0].ConditionType",
        "unknown key beside And",
    ),
    (
        {"Conditions": [{"Or": [{"And": [{"Or": [LOW, HIGH]}, LOW]}, LOW]}]},
        "Conditions[0].Or[0].And[0].Or",
        "nested too deep; they nest at most 2 levels",
    ),
    (
        {"Conditions": [LOW, {"Or": [LOW, sample(0)]}]},
        "Conditions[1].Or[1].ConditionParameters.RandomSamplingPercentage",
        "out of range",
    ),
    (
        {"Conditions": [{"Or": [LOW, {"And": [HIGH, 7]}]}]},
        "Conditions[0].Or[1].And[1]",
        "must be an object",
    ),
    ({"Conditions": [ALWAYS] * (MAX_NODES + 1)}, f"Conditions[{MAX_NODES}]", "at most 100 nodes"),
    (
        {"Conditions": [{"Or": [ALWAYS] * MAX_NODES}]},
        f"Conditions[0].Or[{MAX_NODES - 1}]",
        "too many conditions",
    ),
]


@pytest.mark.parametrize(("source", "path", "why"), REFUSALS)
def test_refusals_name_the_node(source: Any, path: str, why: str) -> None:
    with pytest.raises(ConditionError) as refused:
        parse_conditions(source)
    message = str(refused.value)
    assert message.startswith(f"{path}: "), message
    assert why in message


JSON_REFUSALS = [
    ("[]", "must be a JSON object"),
    ('"Conditions"', "must be a JSON object"),
    ("{", "not valid JSON"),
    ('{"Conditions": [{"ConditionType": "Sampling", "ConditionType": "x"}]}', "appears twice"),
    (
        '{"Conditions": [{"ConditionType": "Sampling", "ConditionParameters": '
        '{"RandomSamplingPercentage": NaN}}]}',
        "NaN is not a JSON number",
    ),
    ('{"Conditions": ' + "[" * 30_000 + "]" * 30_000 + "}", "nested too deep"),
    (" " * (MAX_JSON_CHARS + 1), f"at most {MAX_JSON_CHARS}"),
]


@pytest.mark.parametrize(("text", "why"), JSON_REFUSALS)
def test_json_refusals(text: str, why: str) -> None:
    with pytest.raises(ConditionError) as refused:
        parse_conditions(text)
    assert str(refused.value).startswith("activation conditions: ")
    assert why in str(refused.value)


def test_a_condition_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_conditions({"Conditions": [sample(0)]})


# --- sampling --------------------------------------------------------------------------------

KEYS = [f'{{"source-ref": "s3://bucket/image-{i}.jpg"}}' for i in range(N)]


def test_sampling_is_the_same_for_the_same_request() -> None:
    source = {"Conditions": [sample(50)]}
    first = [evaluate(parse_conditions(source), Scored(), key).activated for key in KEYS[:500]]
    again = [evaluate(parse_conditions(source), Scored(), key).activated for key in KEYS[:500]]
    assert first == again
    assert 0 < sum(first) < 500
    assert sampling_point("k", "Conditions[0]") == sampling_point("k", "Conditions[0]")
    assert sampling_point("k", "Conditions[0]") != sampling_point("k", "Conditions[1]")
    assert sampling_point("\ud800", "Conditions[0]") < 100  # a lone surrogate hashes too


def test_sampling_points_lie_in_0_to_100() -> None:
    points = [sampling_point(key, "Conditions[0]") for key in KEYS]
    assert all(0 <= point < 100 for point in points)


@pytest.mark.parametrize("percentage", [0.01, 5, 50, 99.9, 100])
def test_sampling_rate(percentage: float) -> None:
    parsed = parse_conditions({"Conditions": [sample(percentage)]})
    count = sum(evaluate(parsed, Scored(), key).activated for key in KEYS)
    assert within_binomial_bound(count, N, percentage), count


def test_a_higher_percentage_keeps_every_request_sampled_before() -> None:
    def sampled(percentage: float) -> set[str]:
        parsed = parse_conditions({"Conditions": [sample(percentage)]})
        return {key for key in KEYS if evaluate(parsed, Scored(), key).activated}

    assert sampled(5) < sampled(10)


def test_two_sampling_nodes_draw_independently() -> None:
    parsed = parse_conditions({"Conditions": [{"And": [sample(50), sample(50)]}]})
    count = sum(evaluate(parsed, Scored(), key).activated for key in KEYS)
    assert within_binomial_bound(count, N, 25), count


def test_sampling_inside_and_is_a_share_of_those_meeting_the_other() -> None:
    parsed = parse_conditions({"Conditions": [{"And": [sample(20), TOP_LOW]}]})
    low = [key for i, key in enumerate(KEYS) if i % 2 == 0]
    high = [key for i, key in enumerate(KEYS) if i % 2 == 1]
    low_count = sum(evaluate(parsed, one("cat", 30), key).activated for key in low)
    assert within_binomial_bound(low_count, len(low), 20), low_count
    assert not any(evaluate(parsed, one("cat", 80), key).activated for key in high)


def test_low_confidence_always_and_an_audit_sample_of_the_rest() -> None:
    # The FORMATS.md pattern: review all below 60, and 5 % of the rest.
    parsed = parse_conditions({"Conditions": [{"Or": [LOW, {"And": [sample(5), HIGH]}]}]})
    assert all(evaluate(parsed, one("cat", 59.9), key).activated for key in KEYS[:1000])
    count = sum(evaluate(parsed, one("cat", 60), key).activated for key in KEYS)
    assert within_binomial_bound(count, N, 5), count
