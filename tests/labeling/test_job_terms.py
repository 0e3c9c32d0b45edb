"""A job's defaults and limits are written once (core/job_terms.py): the service, the REST
schema, the portal's form and `truthloop job create` agree on each (issue 16, item 3)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pytest
import typer
from sqlalchemy import String

from tests.labeling.conftest import Lab
from truthloop.cli.feedback import app as feedback_app
from truthloop.cli.job import app as job_app
from truthloop.config import Settings
from truthloop.core import job_terms as terms
from truthloop.core.image_limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from truthloop.errors import InputError
from truthloop.formats.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from truthloop.labeling import JobSpec, TaskType
from truthloop.labeling.autolabel import AutoLabelSpec
from truthloop.labeling.feedback import start_feedback
from truthloop.storage.tables import SubmissionRow
from truthloop.web.feedback_schemas import FeedbackStart
from truthloop.web.job_schemas import AutoLabelTerms, JobCreate, JobForm, SubmitRequest

# A JobSpec field, the JobCreate field and the `job create` option that set the same term.
SHARED = [
    ("workers_per_item", "workers_per_item", "workers_per_item"),
    ("task_time_limit_s", "task_time_limit_s", "time_limit"),
    ("task_lifetime_s", "task_lifetime_s", "lifetime"),
    ("max_concurrent_tasks", "max_concurrent_tasks", "max_concurrent"),
    ("price_per_task", "price_per_task", "price"),
]
WHOLE_NUMBERS = {
    "workers_per_item": terms.WORKERS_PER_ITEM,
    "task_time_limit_s": terms.TASK_TIME_LIMIT_S,
    "task_lifetime_s": terms.TASK_LIFETIME_S,
    "max_concurrent_tasks": terms.MAX_CONCURRENT_TASKS,
}


def _service_defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls)}


def _cli_defaults() -> dict[str, Any]:
    group = typer.main.get_group(job_app)
    return {param.name: param.default for param in group.commands["create"].params}


def _bounds(model: type, field: str) -> tuple[Any, Any]:
    metadata = model.model_fields[field].metadata  # type: ignore[attr-defined]
    low = next((m.ge for m in metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
    return low, high


def test_the_service_the_rest_schema_and_the_cli_share_each_default() -> None:
    service, cli = _service_defaults(JobSpec), _cli_defaults()
    for spec_field, rest_field, option in SHARED:
        rest = JobCreate.model_fields[rest_field].default
        assert service[spec_field] == rest == cli[option], spec_field
    assert service["verification_categories"] == terms.VERIFICATION_CATEGORIES
    assert tuple(JobCreate.model_fields["verification_categories"].default) == (
        terms.VERIFICATION_CATEGORIES
    )
    assert tuple(cli["categories"].split(",")) == terms.VERIFICATION_CATEGORIES
    for field in ("workers_per_item", "task_time_limit_s", "price_per_task"):
        assert JobForm.model_fields[field].default == service[field], field


def test_the_rest_schema_states_the_bounds_the_service_enforces() -> None:
    for field, term in WHOLE_NUMBERS.items():
        assert _service_defaults(JobSpec)[field] == term.default
        for model in (JobCreate, JobForm):
            if field in model.model_fields:
                assert _bounds(model, field) == (term.low, term.high), (model, field)


def test_automated_labeling_defaults_are_shared() -> None:
    service, cli = _service_defaults(AutoLabelSpec), _cli_defaults()
    for field, option in [("target_accuracy", "target_accuracy"),
                          ("compute_price_per_hour", "compute_price")]:
        assert service[field] == AutoLabelTerms.model_fields[field].default == cli[option]
    assert service["confidence"] == AutoLabelTerms.model_fields["confidence"].default
    assert JobForm.model_fields["target_accuracy"].default == service["target_accuracy"]
    for field in ("target_accuracy", "confidence"):
        assert _bounds(AutoLabelTerms, field)[0] == terms.MIN_ACCURACY


def test_a_client_id_fits_where_it_is_stored() -> None:
    column = SubmissionRow.__table__.c.client_id.type
    assert isinstance(column, String)
    stored = column.length
    metadata = SubmitRequest.model_fields["client_id"].metadata
    rest = next(m.max_length for m in metadata if getattr(m, "max_length", None))
    assert rest == terms.MAX_CLIENT_ID_CHARS == stored


def test_images_are_limited_alike_with_and_without_a_project() -> None:
    settings = Settings()
    assert settings.max_image_bytes == DEFAULT_MAX_BYTES == MAX_IMAGE_BYTES == 50_000_000
    assert settings.max_image_pixels == DEFAULT_MAX_PIXELS == MAX_IMAGE_PIXELS


@pytest.mark.parametrize("field", sorted(WHOLE_NUMBERS))
def test_the_service_refuses_past_each_bound(lab: Lab, field: str) -> None:
    term = WHOLE_NUMBERS[field]
    outside = [term.low - 1] + ([term.high + 1] if term.high is not None else [])
    for value in outside:
        with pytest.raises(InputError, match=re.escape(f"{term.what} must be a whole number")):
            overrides: dict[str, Any] = {field: value}
            lab.job(**overrides)


def test_a_whole_number_term_names_its_range() -> None:
    assert terms.WORKERS_PER_ITEM.problem(3) is None
    assert terms.WORKERS_PER_ITEM.problem(True) is not None
    assert terms.TASK_TIME_LIMIT_S.problem(28_801) == (
        "task time limit (seconds) must be a whole number between 1 and 28800, not 28801"
    )
    assert terms.TASK_LIFETIME_S.problem(0) == (
        "task lifetime (seconds) must be a whole number at least 1, not 0"
    )


def test_the_portal_form_starts_from_the_same_defaults() -> None:
    spec = JobForm(name="j", dataset="pets", task_type=TaskType.CLASSIFICATION, team="crew")
    assert spec.to_create().to_spec() == JobSpec(
        name="j", dataset="pets", task_type=TaskType.CLASSIFICATION, team="crew"
    )


def test_feedback_run_defaults_are_shared() -> None:
    service = inspect.signature(start_feedback).parameters
    group = typer.main.get_group(feedback_app)
    cli = {param.name: param.default for param in group.commands["start"].params}
    for field, value in [("batch_size", terms.FEEDBACK_BATCH_SIZE),
                         ("min_confidence", terms.FEEDBACK_MIN_CONFIDENCE)]:
        assert service[field].default == FeedbackStart.model_fields[field].default == value
        assert cli[field] == value
