"""What a continuous-improvement pipeline tells its subscribers, in words, and when.

    EVENTS                                   the six things a subscriber can be told of
    FACTS[event]                             the facts each event comes with
    notice(pipeline, event, facts) -> Notice its subject and body: what happened, with the
                                             numbers, and what to do (a command to type)
    email_problem(address)                   why an address cannot be a subscriber's
    backlog_step(open_loops, threshold, alerted)   tell, clear or hold the backlog alert

Every message is written here, from plain values, so that the e-mail, the webhook, the CLI and
the web page say the same thing. Plain values only: no imports outside core.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from truthloop.core.pipeline_params import (
    AUTOMATIC_TRAINING,
    MINIMUM_CONFIDENCE,
    MINIMUM_F1_SCORE,
    REVIEW_BACKLOG_ALERT,
    parameter,
)
from truthloop.core.text import LINE, refusal, shown

EVENTS = (
    "training-started",
    "version-deployed",
    "gate-failed",
    "review-backlog",
    "error",
    "parameter-changed",
)

FACTS: dict[str, tuple[str, ...]] = {
    "training-started": ("run_id", "new_images", "labeled_images", "from_version"),
    "version-deployed": ("run_id", "version", "f1", "minimum_f1", "previous", "stopped"),
    "gate-failed": ("run_id", "version", "f1", "minimum_f1", "deployed"),
    "review-backlog": ("open_loops", "threshold", "flow"),
    "error": ("run_id", "kind", "step", "error"),
    "parameter-changed": ("run_id", "parameter", "old", "new", "changed_by"),
}
"""The facts each event is told with, by name; the engine passes exactly these."""

# RFC 5321 allows 254 characters in a forward path; a longer "address" is a mistake.
MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True, slots=True)
class Notice:
    subject: str
    body: str


def event_problem(event: str) -> str | None:
    """Why `event` is no event a pipeline tells of (listing those that are), or None."""
    if event in EVENTS:
        return None
    return f"unknown pipeline event {shown(event)}: the events are {', '.join(EVENTS)}"


def facts_problem(event: str, facts: Mapping[str, Any]) -> str | None:
    """Which facts of `event` are missing from `facts`, or None when none is."""
    missing = [key for key in FACTS[event] if key not in facts]
    if not missing:
        return None
    return f"the {event} notice needs the facts {', '.join(missing)}; it was given {sorted(facts)}"


def notice(pipeline: str, event: str, facts: Mapping[str, Any]) -> Notice:
    """The subject and body telling of `event` in pipeline `pipeline`, from `facts` (FACTS)."""
    problem = event_problem(event) or facts_problem(event, facts)
    if problem is not None:
        raise ValueError(problem)
    return _WRITERS[event](pipeline, facts)


def _set(pipeline: str, name: str, value: str) -> str:
    """The command that sets a parameter, as the reader types it."""
    return f"`truthloop pipeline param set {pipeline} {name} {value}`"


def _run(run_id: object) -> str:
    return f"`truthloop pipeline run-show {run_id}`"


def _score(value: float) -> str:
    return f"{value:.2f}"


def _training_started(pipeline: str, facts: Mapping[str, Any]) -> Notice:
    start = facts["from_version"]
    origin = f"starting from {start}'s weights" if start else "from scratch"
    body = (
        f"Pipeline {pipeline} started training a new version on {facts['labeled_images']:,}"
        f" labeled images, {facts['new_images']:,} of them new since the last version,"
        f" {origin} (run {facts['run_id']}).\n\n"
        "Nothing to do yet: you will be told when it is deployed or when it fails the"
        f" {MINIMUM_F1_SCORE.name} gate. Follow it with {_run(facts['run_id'])}."
    )
    return Notice(f"[{pipeline}] training started on {facts['labeled_images']:,} images", body)


def _version_deployed(pipeline: str, facts: Mapping[str, Any]) -> Notice:
    version, previous = facts["version"], facts["previous"]
    replaced = f"it replaces {previous}" if previous else "it is the pipeline's first version"
    stopped = list(facts["stopped"])
    stops = f"; stopped: {', '.join(stopped)}" if stopped else ""
    body = (
        f"{version} is deployed: it scored F1 {_score(facts['f1'])} on its test split, at least"
        f" the minimum {_score(facts['minimum_f1'])} ({MINIMUM_F1_SCORE.name}); {replaced}"
        f"{stops}.\n\n"
        "Nothing to do: new detections use it from now on. Its training and test:"
        f" {_run(facts['run_id'])}."
    )
    return Notice(f"[{pipeline}] {version} deployed (F1 {_score(facts['f1'])})", body)


def _gate_failed(pipeline: str, facts: Mapping[str, Any]) -> Notice:
    version, f1, minimum = facts["version"], facts["f1"], facts["minimum_f1"]
    deployed = facts["deployed"]
    stays = f"{deployed} stays deployed" if deployed else "no version is deployed yet"
    if f1 is None:
        what = f"{version} could not be scored on its test split"
        todo = f"See why with {_run(facts['run_id'])}."
        subject = f"[{pipeline}] {version} not deployed: no F1 score"
    else:
        what = (
            f"{version} scored F1 {_score(f1)} on its test split, below the minimum"
            f" {_score(minimum)} ({MINIMUM_F1_SCORE.name})"
        )
        # A minimum the version would have met, rounded down to one decimal, as people set it.
        lower = f"{math.floor(f1 * 10) / 10:g}"
        todo = (
            f"Label more images, or lower {MINIMUM_F1_SCORE.name} with"
            f" {_set(pipeline, MINIMUM_F1_SCORE.name, lower)}."
        )
        subject = f"[{pipeline}] {version} not deployed: F1 {_score(f1)} < {_score(minimum)}"
    return Notice(subject, f"{what}; {stays}.\n\n{todo}")


def _review_backlog(pipeline: str, facts: Mapping[str, Any]) -> Notice:
    open_loops, threshold, flow = facts["open_loops"], facts["threshold"], facts["flow"]
    where = f" in review flow {flow}" if flow else ""
    body = (
        f"Pipeline {pipeline} has {open_loops:,} review loops open{where}, at or above"
        f" {REVIEW_BACKLOG_ALERT.name} ({threshold:,}): reviewers are falling behind.\n\n"
        "Add reviewers to the flow's work team, or send fewer detections to review by lowering"
        f" {MINIMUM_CONFIDENCE.name} with {_set(pipeline, MINIMUM_CONFIDENCE.name, '<percent>')},"
        " or raise the alert with"
        f" {_set(pipeline, REVIEW_BACKLOG_ALERT.name, str(threshold * 2))}. You are told"
        f" again only after the backlog has fallen below {threshold:,}."
    )
    return Notice(f"[{pipeline}] review backlog: {open_loops:,} loops open", body)


def _error(pipeline: str, facts: Mapping[str, Any]) -> Notice:
    run_id, step = facts["run_id"], facts["step"]
    at = f" at step {step}" if step else ""
    body = (
        f"Pipeline {pipeline}'s {facts['kind']} run {run_id} failed{at}: {facts['error']}\n\n"
        f"Read the run with {_run(run_id)} and fix the cause; the next scheduled run tries"
        f" again. To stop training meanwhile: {_set(pipeline, AUTOMATIC_TRAINING.name, 'false')}."
    )
    return Notice(f"[{pipeline}] {facts['kind']} run {run_id} failed{at}", body)


def _parameter_changed(pipeline: str, facts: Mapping[str, Any]) -> Notice:
    name, old, new, who = facts["parameter"], facts["old"], facts["new"], facts["changed_by"]
    # No stored text means the default was in force: setting it back means the default.
    back = old if old is not None else parameter(name).text(parameter(name).default)
    was = old if old is not None else f"its default {back}"
    by = f" by {who}" if who else ""
    body = (
        f"Pipeline {pipeline}'s {name} changed from {was} to {new}{by} (run {facts['run_id']})."
        f"\n\nIf that was not meant, set it back with {_set(pipeline, name, back)}; every"
        f" change: `truthloop pipeline param history {pipeline}`."
    )
    return Notice(f"[{pipeline}] {name} changed to {new}", body)


_WRITERS: dict[str, Callable[[str, Mapping[str, Any]], Notice]] = {
    "training-started": _training_started,
    "version-deployed": _version_deployed,
    "gate-failed": _gate_failed,
    "review-backlog": _review_backlog,
    "error": _error,
    "parameter-changed": _parameter_changed,
}


def email_problem(address: str) -> str | None:
    """Why `address` cannot be a subscriber's e-mail address, or None when it can: one plain
    address (one @ with text either side, no space, no control character: a line break would
    let it add headers to the mail), at most MAX_EMAIL_LENGTH characters."""
    if len(address) > MAX_EMAIL_LENGTH:
        return f"the e-mail address is {len(address)} characters long, more than {MAX_EMAIL_LENGTH}"
    problem = refusal(address, LINE)
    if problem is not None:
        return f"the e-mail address {problem}"
    local, at, domain = address.partition("@")
    if not at or not local or not domain or "@" in domain:
        return f"the e-mail address {shown(address)} is not one address: name@domain"
    if any(char.isspace() or char in '<>,;"' for char in address):
        return (
            f'the e-mail address {shown(address)} holds a space or one of <>,;":'
            " give one plain address"
        )
    return None


class BacklogStep(StrEnum):
    ALERT = "alert"  # tell the subscribers now
    CLEAR = "clear"  # below the threshold: the next crossing is told again
    HOLD = "hold"  # nothing changed: told already, or still below


def backlog_step(open_loops: int, threshold: int, alerted: bool) -> BacklogStep:
    """What to do about `open_loops` open loops, with an alert at `threshold`, when the
    subscribers were (`alerted`) or were not told of this backlog already: they are told once
    per crossing, when it reaches the threshold, and again only after it fell below."""
    if open_loops >= threshold:
        return BacklogStep.HOLD if alerted else BacklogStep.ALERT
    return BacklogStep.CLEAR if alerted else BacklogStep.HOLD
