"""What a pipeline tells its subscribers, from plain values: each message says what happened,
with the numbers, and what to do; addresses are checked; the backlog is told once a crossing."""

from __future__ import annotations

from typing import Any

import pytest

from truthloop.core.pipeline_notices import (
    EVENTS,
    FACTS,
    MAX_EMAIL_LENGTH,
    BacklogStep,
    backlog_step,
    email_problem,
    event_problem,
    facts_problem,
    notice,
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "training-started": {
        "run_id": 7, "new_images": 130, "labeled_images": 1240, "from_version": "logos.v2",
    },
    "version-deployed": {
        "run_id": 8, "version": "logos.v3", "f1": 0.864, "minimum_f1": 0.8,
        "previous": "logos.v2", "stopped": ["logos.v2"],
    },
    "gate-failed": {
        "run_id": 9, "version": "logos.v3", "f1": 0.71, "minimum_f1": 0.8, "deployed": "logos.v2",
    },
    "review-backlog": {"open_loops": 140, "threshold": 100, "flow": "logos-review"},
    "error": {"run_id": 10, "kind": "training-check", "step": "train", "error": "out of memory"},
    "parameter-changed": {
        "run_id": 11, "parameter": "Minimum-F1-Score", "old": "0.8", "new": "0.7",
        "changed_by": "alice",
    },
}  # fmt: skip


def said(text: str) -> str:
    return " ".join(text.split())


def test_every_event_has_its_facts_and_an_example() -> None:
    assert set(FACTS) == set(EVENTS) == set(EXAMPLES)
    for event, facts in EXAMPLES.items():
        assert set(facts) == set(FACTS[event])


@pytest.mark.parametrize("event", EVENTS)
def test_every_notice_names_the_pipeline_and_says_what_to_do(event: str) -> None:
    written = notice("logos", event, EXAMPLES[event])
    assert written.subject.startswith("[logos] ")
    assert "\n" not in written.subject
    what, _, todo = written.body.partition("\n\n")
    assert what and todo, written.body
    assert "`truthloop pipeline " in todo


def test_a_failed_gate_gives_the_scores_and_the_command_that_would_pass_it() -> None:
    body = said(notice("logos", "gate-failed", EXAMPLES["gate-failed"]).body)
    assert body == (
        "logos.v3 scored F1 0.71 on its test split, below the minimum 0.80 (Minimum-F1-Score);"
        " logos.v2 stays deployed. Label more images, or lower Minimum-F1-Score with"
        " `truthloop pipeline param set logos Minimum-F1-Score 0.7`."
    )


def test_a_version_that_could_not_be_scored_points_at_its_run() -> None:
    facts = EXAMPLES["gate-failed"] | {"f1": None, "deployed": None}
    written = notice("logos", "gate-failed", facts)
    assert "could not be scored" in written.body
    assert "no version is deployed yet" in written.body
    assert "`truthloop pipeline run-show 9`" in written.body


def test_a_deployed_version_gives_its_score_and_what_it_replaced() -> None:
    written = notice("logos", "version-deployed", EXAMPLES["version-deployed"])
    assert written.subject == "[logos] logos.v3 deployed (F1 0.86)"
    body = said(written.body)
    assert "scored F1 0.86" in body and "minimum 0.80" in body
    assert "it replaces logos.v2; stopped: logos.v2." in body
    first = notice("logos", "version-deployed", EXAMPLES["version-deployed"] | {"previous": None})
    assert "the pipeline's first version" in first.body


def test_training_started_gives_the_image_counts_and_the_start() -> None:
    body = said(notice("logos", "training-started", EXAMPLES["training-started"]).body)
    assert "on 1,240 labeled images, 130 of them new" in body
    assert "starting from logos.v2's weights" in body
    scratch = notice(
        "logos", "training-started", EXAMPLES["training-started"] | {"from_version": None}
    )
    assert "from scratch" in scratch.body


def test_a_backlog_notice_gives_the_count_the_threshold_and_three_ways_out() -> None:
    body = said(notice("logos", "review-backlog", EXAMPLES["review-backlog"]).body)
    assert "140 review loops open in review flow logos-review" in body
    assert "Review-Backlog-Alert (100)" in body
    assert "param set logos Minimum-Label-Detection-Confidence" in body
    assert "param set logos Review-Backlog-Alert 200" in body
    assert "fallen below 100" in body


def test_an_error_gives_the_run_the_step_and_the_message() -> None:
    written = notice("logos", "error", EXAMPLES["error"])
    assert written.subject == "[logos] training-check run 10 failed at step train"
    assert "failed at step train: out of memory" in written.body
    assert "`truthloop pipeline run-show 10`" in written.body


def test_a_parameter_change_says_how_to_set_it_back() -> None:
    body = said(notice("logos", "parameter-changed", EXAMPLES["parameter-changed"]).body)
    assert "Minimum-F1-Score changed from 0.8 to 0.7 by alice" in body
    assert "`truthloop pipeline param set logos Minimum-F1-Score 0.8`" in body
    first = EXAMPLES["parameter-changed"] | {"old": None, "changed_by": None}
    body = said(notice("logos", "parameter-changed", first).body)
    assert "changed from its default 0.8 to 0.7 (run 11)" in body
    assert "param set logos Minimum-F1-Score 0.8`" in body


def test_an_unknown_event_or_missing_facts_are_refused_by_name() -> None:
    problem = event_problem("deployed")
    assert problem is not None and "'deployed'" in problem and "gate-failed" in problem
    assert event_problem("error") is None
    missing = facts_problem("error", {"run_id": 1, "kind": "intake"})
    assert missing is not None and "step, error" in missing
    with pytest.raises(ValueError, match="unknown pipeline event"):
        notice("logos", "deployed", {})


@pytest.mark.parametrize(
    "address",
    ["ivy@example.org", "ivy.o'neil+logos@mail.example.org"],
)
def test_plain_addresses_are_accepted(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("ivy@example.org\r\nBcc: eve@example.org", "CARRIAGE RETURN"),
        ("ivy.example.org", "not one address"),
        ("ivy@a@example.org", "not one address"),
        ("@example.org", "not one address"),
        ("ivy@", "not one address"),
        ("ivy @example.org", "holds a space"),
        ("Ivy <ivy@example.org>", "holds a space"),
        ("a,b@example.org", "holds a space or one of"),
        ("a" * MAX_EMAIL_LENGTH + "@x.org", f"more than {MAX_EMAIL_LENGTH}"),
    ],
)
def test_addresses_that_are_not_one_plain_address_are_refused(address: str, says: str) -> None:
    problem = email_problem(address)
    assert problem is not None and says in problem


@pytest.mark.parametrize(
    ("open_loops", "alerted", "step"),
    [
        (99, False, BacklogStep.HOLD),
        (100, False, BacklogStep.ALERT),
        (250, False, BacklogStep.ALERT),
        (100, True, BacklogStep.HOLD),
        (250, True, BacklogStep.HOLD),
        (99, True, BacklogStep.CLEAR),
        (0, True, BacklogStep.CLEAR),
    ],
)
def test_the_backlog_is_told_once_a_crossing(
    open_loops: int, alerted: bool, step: BacklogStep
) -> None:
    assert backlog_step(open_loops, 100, alerted) is step
