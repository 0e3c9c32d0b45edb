"""The pipeline's parameters: the seed's names and defaults, its string forms, and refusals
that name the parameter and what it allows."""

from __future__ import annotations

import pytest

from truthloop.core.pipeline_params import (
    PARAMETERS,
    Parameter,
    ParameterError,
    Value,
    defaults,
    describe,
    parameter,
    parse_value,
)

SEED_DEFAULTS: dict[str, Value] = {
    "Enable-Automatic-Training": True,
    "Automatic-Training-Poll-Frequency": 720,
    "Minimum-Untrained-Images": 10,
    "Minimum-F1-Score": 0.8,
    "Minimum-Inference-Units": 1,
    "Minimum-Label-Detection-Confidence": 70.0,
    "Enable-A2I-Workflow": True,
    "Enable-Automatic-Human-Sampling": True,
    "Automatic-Human-Sampling-Frequency": 720,
    "Human-Sampling-Interval": 1000,
}


def test_the_seeds_ten_come_first_with_its_defaults_then_truthloops_own() -> None:
    assert defaults() == {
        **SEED_DEFAULTS,
        "Train-From-Deployed-Version": True,
        "Test-Split-Percentage": 20.0,
        "Review-Backlog-Alert": 100,
    }
    assert [p.name for p in PARAMETERS] == list(defaults())


@pytest.mark.parametrize("param", PARAMETERS, ids=lambda p: p.name)
def test_every_default_is_allowed_and_of_its_type(param: Parameter) -> None:
    assert parameter(param.name) is param
    assert type(param.default) is param.kind
    assert param.parse(param.default) == param.default
    assert param.parse(param.text(param.default)) == param.default  # the stored string reads back
    assert param.problem(param.default) is None


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # The seed's Parameter Store holds every value as a string.
        ("Enable-Automatic-Training", "true", True),
        ("Enable-Automatic-Training", "false", False),
        ("Enable-A2I-Workflow", "False", False),
        ("Enable-A2I-Workflow", " TRUE ", True),
        ("Automatic-Training-Poll-Frequency", "720", 720),
        ("Automatic-Training-Poll-Frequency", "1", 1),
        ("Automatic-Training-Poll-Frequency", "10080", 10_080),
        ("Minimum-Untrained-Images", "+10", 10),
        ("Minimum-F1-Score", "0.8", 0.8),
        ("Minimum-F1-Score", "0", 0.0),
        ("Minimum-F1-Score", "1", 1.0),
        ("Minimum-F1-Score", ".95", 0.95),
        ("Minimum-F1-Score", "8e-1", 0.8),
        ("Minimum-Label-Detection-Confidence", "70.0", 70.0),
        ("Minimum-Label-Detection-Confidence", "100", 100.0),
        ("Human-Sampling-Interval", "1000", 1000),
        ("Test-Split-Percentage", "20", 20.0),
        # Typed values, as JSON or Python gives them; a whole number is a number too.
        ("Enable-Automatic-Human-Sampling", False, False),
        ("Minimum-Inference-Units", 16, 16),
        ("Minimum-F1-Score", 1, 1.0),
        ("Minimum-Label-Detection-Confidence", 0, 0.0),
    ],
)
def test_string_forms_and_typed_values_read(name: str, text: object, expected: Value) -> None:
    value = parse_value(name, text)
    assert value == expected
    assert type(value) is type(expected)


def test_a_float_parameter_reads_as_a_float_and_is_stored_as_the_seed_writes_it() -> None:
    f1 = parameter("Minimum-F1-Score")
    assert f1.text(0.8) == "0.8"
    assert parameter("Minimum-Label-Detection-Confidence").text(70) == "70.0"
    assert parameter("Human-Sampling-Interval").text(1000) == "1000"
    assert parameter("Enable-A2I-Workflow").text(False) == "false"


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("Automatic-Training-Poll-Frequency", "0", "a whole number from 1 to 10,080 minutes"),
        ("Automatic-Training-Poll-Frequency", 10_081, "a whole number from 1 to 10,080 minutes"),
        ("Automatic-Training-Poll-Frequency", "720.0", "a whole number from 1 to 10,080"),
        ("Automatic-Training-Poll-Frequency", 720.0, "a whole number from 1 to 10,080"),
        ("Automatic-Training-Poll-Frequency", "7_20", "a whole number"),
        ("Automatic-Training-Poll-Frequency", "", "a whole number"),
        ("Minimum-Untrained-Images", 0, "a whole number from 1 to 250,000 images"),
        ("Minimum-Untrained-Images", True, "a whole number from 1 to 250,000 images"),
        ("Minimum-F1-Score", "1.5", "a number from 0 to 1"),
        ("Minimum-F1-Score", -0.01, "a number from 0 to 1"),
        ("Minimum-F1-Score", "nan", "a number from 0 to 1"),
        ("Minimum-F1-Score", float("nan"), "a number from 0 to 1"),
        ("Minimum-F1-Score", "inf", "a number from 0 to 1"),
        ("Minimum-F1-Score", float("-inf"), "a number from 0 to 1"),
        ("Minimum-F1-Score", "1e400", "a number from 0 to 1"),
        ("Minimum-F1-Score", 10**400, "a number from 0 to 1"),
        ("Minimum-F1-Score", True, "a number from 0 to 1"),
        ("Minimum-F1-Score", "80%", "a number from 0 to 1"),
        ("Minimum-F1-Score", None, "a number from 0 to 1"),
        ("Minimum-Inference-Units", 17, "a whole number from 1 to 16 workers"),
        ("Minimum-Label-Detection-Confidence", "100.5", "a number from 0 to 100 %"),
        ("Minimum-Label-Detection-Confidence", -1, "a number from 0 to 100 %"),
        ("Enable-A2I-Workflow", "yes", "true or false"),
        ("Enable-A2I-Workflow", "on", "true or false"),
        ("Enable-A2I-Workflow", "1", "true or false"),
        ("Enable-A2I-Workflow", 1, "true or false"),
        ("Enable-A2I-Workflow", "", "true or false"),
        ("Human-Sampling-Interval", 0, "a whole number from 1 to 1,000,000 detections"),
        ("Human-Sampling-Interval", "9" * 5000, "a whole number from 1 to 1,000,000"),
        ("Test-Split-Percentage", 0.5, "a number from 1 to 50 %"),
        ("Test-Split-Percentage", "51", "a number from 1 to 50 %"),
        ("Train-From-Deployed-Version", "scratch", "true or false"),
    ],
)
def test_a_bad_value_is_refused_naming_the_parameter_and_what_it_allows(
    name: str, value: object, allowed: str
) -> None:
    with pytest.raises(ParameterError) as refused:
        parse_value(name, value)
    assert str(refused.value).startswith(f"{name} must be {allowed}")
    assert refused.value.parameter == name
    assert isinstance(refused.value, ValueError)
    assert len(str(refused.value)) < 150  # a page of digits is not quoted whole


def test_problem_takes_typed_values_only() -> None:
    units = parameter("Minimum-Inference-Units")
    assert units.problem(4) is None
    assert (
        units.problem("4")
        == "Minimum-Inference-Units must be a whole number from 1 to 16 workers, not '4'"
    )
    assert (
        units.problem(0)
        == "Minimum-Inference-Units must be a whole number from 1 to 16 workers, not 0"
    )


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Minimum-F1-Scor", " (did you mean Minimum-F1-Score?)"),
        ("minimum-f1-score", " (did you mean Minimum-F1-Score?)"),  # names are spelled exactly
        ("Colour", ""),
    ],
)
def test_an_unknown_name_is_refused_listing_the_known_ones(name: str, hint: str) -> None:
    with pytest.raises(ParameterError) as refused:
        parse_value(name, "1")
    message = str(refused.value)
    assert message.startswith(f"unknown parameter {name!r}{hint}; the parameters are ")
    assert all(p.name in message for p in PARAMETERS)
    assert refused.value.parameter == name


def test_describe_gives_one_row_of_text_per_parameter() -> None:
    rows = describe()
    assert [row["name"] for row in rows] == [p.name for p in PARAMETERS]
    assert rows[1] == {
        "name": "Automatic-Training-Poll-Frequency",
        "type": "int",
        "default": "720",
        "allowed": "a whole number from 1 to 10,080 minutes",
        "unit": "minutes",
        "meaning": "how often the schedule checks whether to train",
    }
    assert rows[3]["default"] == "0.8"
    assert rows[0]["allowed"] == "true or false"
    assert all(row["meaning"] and all(isinstance(v, str) for v in row.values()) for row in rows)
