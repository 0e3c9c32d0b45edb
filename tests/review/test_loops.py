"""Flow definitions and human loops through their lifecycle, on SQLite and PostgreSQL: start,
tasks handed to the flow's team under leases, answers kept as given, output.json written in
A2I's shape, Stopping while leased, Expired, TaskCount 2, idempotent start, events."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from tests.review.conftest import Desk, later
from truthloop import labeling
from truthloop.errors import AlreadyExists, Conflict, InputError, InvalidName, NotFound
from truthloop.review import (
    FlowStatus,
    LoopStart,
    LoopStatus,
    advance_loops,
    delete_flow,
    delete_loop,
    describe_loop,
    get_flow,
    get_loop,
    list_loops,
    start_loop,
    stop_loop,
)
from truthloop.review.work import submit_review
from truthloop.storage.tables import ReviewEventRow

BOXES = {
    "annotatedResult": {
        "boundingBoxes": [{"height": 40, "label": "cat", "left": 10, "top": 12, "width": 30}],
        "inputImageProperties": {"height": 480, "width": 640},
    }
}


def job_of(desk: Desk, flow: str = "pets-review") -> int:
    with desk.project.session() as session:
        return get_flow(session, flow).job_id


def answer(desk: Desk, user: str, job: int, client: str, now=None) -> labeling.SubmitResult:
    task = labeling.next_task(desk.project.db, job, desk.users[user], now=now)
    assert task is not None, f"{user} got no task"
    return submit_review(
        desk.project, task.task_id, desk.users[user], client_id=client, answer=BOXES,
        seconds=3.5, now=now,
    )


def events(desk: Desk) -> list[tuple[str, str]]:
    with desk.project.session() as session:
        rows = session.scalars(select(ReviewEventRow).order_by(ReviewEventRow.id)).all()
        return [(r.loop_name, r.status) for r in rows]


def test_a_loop_goes_to_the_team_and_its_answer_is_written_as_a2i_does(desk: Desk) -> None:
    flow = desk.flow()
    assert flow.status == FlowStatus.ACTIVE
    desk.loop("loop-1", boxes=[{"label": "cat", "left": 1, "top": 2, "width": 3, "height": 4}])
    job = job_of(desk)
    result = answer(desk, "alice", job, "a-1")
    assert result.item_done
    with desk.project.session() as session:
        loop = get_loop(session, "loop-1")
        assert loop.status == LoopStatus.COMPLETED
        created = loop.created_at
        described = describe_loop(loop, "pets-review")
    stamp = created.strftime("%Y/%m/%d/%H/%M/%S")
    path = desk.output / "pets-review" / stamp / "loop-1" / "output.json"
    assert described["HumanLoopOutput"] == {"OutputS3Uri": str(path)}
    written = json.loads(path.read_text())
    assert set(written) == {"flowDefinitionArn", "humanAnswers", "humanLoopName", "inputContent"}
    assert written["flowDefinitionArn"].endswith(":flow-definition/pets-review")
    assert written["humanLoopName"] == "loop-1"
    assert written["inputContent"]["taskObject"] == "s3://bucket/cat.jpg"
    [human] = written["humanAnswers"]
    assert human["answerContent"] == BOXES
    assert human["timeSpentInSeconds"] == 3.5
    assert human["submissionTime"].endswith("Z") and human["acceptanceTime"].endswith("Z")
    assert events(desk) == [("loop-1", "Completed")]


def test_mallory_outside_the_team_gets_no_review_task(desk: Desk) -> None:
    desk.flow()
    desk.loop("loop-1")
    with pytest.raises(NotFound):
        labeling.next_task(desk.project.db, job_of(desk), desk.users["mallory"])


def test_task_count_two_waits_for_both_and_keeps_both_answers(desk: Desk) -> None:
    desk.flow(task_count=2)
    desk.loop("loop-2")
    job = job_of(desk)
    assert not answer(desk, "alice", job, "a-1").item_done
    with desk.project.session() as session:
        assert get_loop(session, "loop-2").status == LoopStatus.IN_PROGRESS
    assert answer(desk, "bob", job, "b-1").item_done
    with desk.project.session() as session:
        loop = get_loop(session, "loop-2")
        assert loop.status == LoopStatus.COMPLETED
        document = json.loads(Path(loop.output_uri or "").read_text())
    assert len(document["humanAnswers"]) == 2
    assert len({h["workerId"] for h in document["humanAnswers"]}) == 2


def test_a_retried_start_returns_the_loop_and_another_input_is_refused(desk: Desk) -> None:
    desk.flow()
    content = orjson.dumps({"taskObject": "s3://bucket/a.jpg"}).decode()
    first, new = start_loop(desk.project, LoopStart("same", "pets-review", content))
    again, new_again = start_loop(desk.project, LoopStart("same", "pets-review", content))
    assert (new, new_again, again.id) == (True, False, first.id)
    with pytest.raises(Conflict, match="another input"):
        start_loop(desk.project, LoopStart("same", "pets-review", '{"taskObject": "s3://b/x"}'))


def test_stopping_while_a_reviewer_holds_the_task_then_stopped(desk: Desk) -> None:
    desk.flow(task_count=2)
    desk.loop("held")
    job = job_of(desk)
    task = labeling.next_task(desk.project.db, job, desk.users["alice"])
    assert task is not None
    assert stop_loop(desk.project, "held").status == LoopStatus.STOPPING
    # Nobody else gets the loop once it is stopping.
    assert labeling.next_task(desk.project.db, job, desk.users["bob"]) is None
    assert advance_loops(desk.project) == 0
    submit_review(desk.project, task.task_id, desk.users["alice"], client_id="late",
                  answer=BOXES, seconds=2)
    assert advance_loops(desk.project) == 1
    with desk.project.session() as session:
        assert get_loop(session, "held").status == LoopStatus.STOPPED
    assert events(desk) == [("held", "Stopped")]
    delete_loop(desk.project, "held")
    with desk.project.session() as session, pytest.raises(NotFound):
        get_loop(session, "held")


def test_a_loop_nobody_took_stops_at_once(desk: Desk) -> None:
    desk.flow()
    desk.loop("idle")
    assert stop_loop(desk.project, "idle").status == LoopStatus.STOPPED
    assert labeling.next_task(desk.project.db, job_of(desk), desk.users["alice"]) is None


def test_a_loop_nobody_answers_within_its_lifetime_expires(desk: Desk) -> None:
    desk.flow(lifetime_s=60)
    desk.loop("slow")
    assert advance_loops(desk.project, now=later(30)) == 0
    assert advance_loops(desk.project, now=later(61)) == 1
    with desk.project.session() as session:
        loop = get_loop(session, "slow")
        assert (loop.status, loop.failure_code) == (LoopStatus.FAILED, "Expired")
        assert "60 seconds" in (loop.failure_reason or "")
    assert events(desk) == [("slow", "Failed")]
    assert labeling.next_task(desk.project.db, job_of(desk), desk.users["alice"],
                              now=later(62)) is None


def test_an_unfinished_loop_cannot_be_deleted_nor_its_flow(desk: Desk) -> None:
    desk.flow()
    desk.loop("busy")
    with pytest.raises(InputError, match="only a Completed, Failed or Stopped"):
        delete_loop(desk.project, "busy")
    with desk.project.session() as session, pytest.raises(InputError, match="stop them first"):
        delete_flow(session, "pets-review")
    stop_loop(desk.project, "busy")
    with desk.project.session() as session:
        delete_flow(session, "pets-review")
    with desk.project.session() as session, pytest.raises(NotFound):
        get_flow(session, "pets-review")


def test_listing_filters_by_time_and_status_and_pages(desk: Desk) -> None:
    desk.flow()
    start = later(0)
    for n in range(5):
        desk.loop(f"l-{n}", now=start + timedelta(seconds=n))
    stop_loop(desk.project, "l-1")
    with desk.project.session() as session:
        page = list_loops(session, "pets-review", max_results=2)
        assert [loop.name for loop in page.loops] == ["l-4", "l-3"]
        assert page.next_token is not None
        rest = list_loops(session, "pets-review", max_results=10, next_token=page.next_token)
        assert [loop.name for loop in rest.loops] == ["l-2", "l-1", "l-0"]
        assert rest.next_token is None
        oldest = list_loops(session, "pets-review", ascending=True, max_results=1,
                            created_after=start + timedelta(seconds=1))
        assert [loop.name for loop in oldest.loops] == ["l-1"]
        stopped = list_loops(session, "pets-review", status="Stopped")
        assert [loop.name for loop in stopped.loops] == ["l-1"]
        with pytest.raises(InputError, match="MaxResults"):
            list_loops(session, "pets-review", max_results=101)
        with pytest.raises(InputError, match="NextToken"):
            list_loops(session, "pets-review", next_token="garbage")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"a": "x\\u0000y"}', "NUL"),
        ('{"a": "' + "x" * 3_145_729 + '"}', "at most 3,145,728"),
    ],
)
def test_bad_input_content_is_refused_and_nothing_is_stored(
    desk: Desk, content: str, message: str
) -> None:
    desk.flow()
    with pytest.raises(InputError, match=message):
        start_loop(desk.project, LoopStart("bad", "pets-review", content))
    with desk.project.session() as session:
        assert list_loops(session, "pets-review").loops == []


def test_unknown_flow_bad_names_and_duplicates_are_refused(desk: Desk) -> None:
    desk.flow()
    with pytest.raises(NotFound, match="no flow definition 'nope'"):
        start_loop(desk.project, LoopStart("x", "nope", "{}"))
    with pytest.raises(InvalidName, match="human loop name"):
        start_loop(desk.project, LoopStart("Bad_Name", "pets-review", "{}"))
    with pytest.raises(AlreadyExists, match="already exists"):
        desk.flow()
    with pytest.raises(NotFound, match="no team named 'ghosts'"):
        desk.flow("other", team="ghosts")
    with pytest.raises(InvalidName, match="flow definition name"):
        desk.flow("Upper-Case")
    with pytest.raises(InputError, match="TaskCount"):
        desk.flow("four", task_count=4)
    with pytest.raises(NotFound, match=r"nope\.v1"):
        desk.flow("attached", model_version="nope.v1")
    with pytest.raises(InputError, match="activation conditions"):
        desk.flow("cond", conditions={"Conditions": [{"ConditionType": "Nope"}]})


def test_an_output_location_outside_the_roots_is_refused(desk: Desk) -> None:
    with pytest.raises(InputError, match="outside the allowed roots"):
        desk.flow(output="/etc/truthloop-review")


def test_an_output_location_that_cannot_be_written_fails_the_flow(desk: Desk) -> None:
    blocker = desk.project.home / "a-file"
    blocker.write_text("not a folder")
    flow = desk.flow(output=str(blocker / "out"))
    assert flow.status == FlowStatus.FAILED
    assert "cannot write to the output location" in (flow.failure_reason or "")
    with pytest.raises(InputError, match="is Failed: cannot write"):
        desk.loop("nowhere")
