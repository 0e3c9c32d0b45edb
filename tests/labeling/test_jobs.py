from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.labeling.conftest import ITEMS, Lab, later
from truthloop.core.types import Classification, ImageRecord, LabelSet, Split
from truthloop.errors import AlreadyExists, InputError, InvalidName, NotFound
from truthloop.labeling import (
    JobStatus,
    Subset,
    TaskType,
    cancel_job,
    close_expired_jobs,
    get_job,
    job_progress,
    jobs_for_worker,
    list_jobs,
    next_task,
    progress,
    submit,
)
from truthloop.storage import datasets as store
from truthloop.storage.tables import JobRow, TaskRow


def _items_of(lab: Lab, job_id: int) -> int:
    with lab.project.session() as session:
        return job_progress(session, job_id).total_items


def test_a_job_has_a_slot_per_item_and_worker(sqlite_lab: Lab) -> None:
    job = sqlite_lab.job(workers_per_item=3, price_per_task=0.036, instructions="# Look *closely*")
    with sqlite_lab.project.session() as session:
        row = get_job(session, "pets-job")
        assert row.id == job and get_job(session, job).name == "pets-job"
        assert (row.label_attribute, row.labels, row.status) == ("pets-job", ["cat", "dog"],
                                                                  JobStatus.IN_PROGRESS)
        assert session.scalar(select(func.count()).select_from(TaskRow)) == 3 * ITEMS
        assert [j.name for j in list_jobs(session)] == ["pets-job"]
    task = next_task(sqlite_lab.db, job, sqlite_lab.users["alice"])
    assert task is not None
    assert task.instructions_html == "<h1>Look <em>closely</em></h1>\n"


def test_hostile_instructions_render_as_text(sqlite_lab: Lab) -> None:
    job = sqlite_lab.job(instructions='<script>alert(1)</script> [x](javascript:alert(1))')
    task = next_task(sqlite_lab.db, job, sqlite_lab.users["alice"])
    assert task is not None
    assert "<script>" not in task.instructions_html
    assert "&lt;script&gt;" in task.instructions_html
    assert "href" not in task.instructions_html


def test_subsets_pick_items_by_split_label_and_uri(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    assert _items_of(lab, lab.job("by-split", subset=Subset(split=Split.TEST))) == 3
    assert _items_of(lab, lab.job("by-label", subset=Subset(label="cat"))) == 1
    assert _items_of(lab, lab.job("by-uri", subset=Subset(query="/00"))) == ITEMS
    assert _items_of(lab, lab.job("both", subset=Subset(split=Split.TRAIN, query="002"))) == 1


def test_items_already_labeled_under_the_attribute_are_left_out(sqlite_lab: Lab) -> None:
    """As a chained Ground Truth job that reuses a label attribute."""
    job = sqlite_lab.job("again", label_attribute="species")
    assert _items_of(sqlite_lab, job) == ITEMS - 1


def test_new_labels_join_the_dataset_label_set(sqlite_lab: Lab) -> None:
    sqlite_lab.job(labels=("dog", "bird"))
    with sqlite_lab.project.session() as session:
        labels = store.label_set_of(session, store.get_dataset(session, "pets"))
    assert labels == LabelSet({"cat": 0, "dog": 1, "bird": 2})


def test_verification_and_adjustment_jobs_work_on_items_with_proposals(sqlite_lab: Lab) -> None:
    job = sqlite_lab.job("check", task_type=TaskType.VERIFICATION, proposals="model")
    assert _items_of(sqlite_lab, job) == 4
    task = next_task(sqlite_lab.db, job, sqlite_lab.users["alice"])
    assert task is not None and task.proposals is not None
    assert task.verification_categories == ("correct", "incorrect")
    assert _items_of(sqlite_lab, sqlite_lab.job("fix", task_type=TaskType.ADJUSTMENT,
                                                proposals="model")) == 4


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"task_type": TaskType.VERIFICATION}, InputError, "needs proposals.*--proposals"),
        ({"task_type": TaskType.ADJUSTMENT}, InputError, "needs proposals"),
        ({"task_type": TaskType.ADJUSTMENT, "proposals": "species"}, InputError,
         "needs box proposals.*classification"),
        ({"task_type": TaskType.VERIFICATION, "proposals": "nothing"}, InputError,
         "no image .* has proposals under 'nothing'"),
        ({"task_type": TaskType.VERIFICATION, "proposals": "model",
          "verification_categories": ("ok",)}, InputError, "at least two different"),
        ({"proposals": "model", "label_attribute": "model"}, InputError, "also where its"),
        ({"label_attribute": "boxes-ref"}, InputError, "cannot be a label attribute"),
        ({"name": "../etc"}, InvalidName, "job name"),
        ({"dataset": "nope"}, NotFound, "no dataset named 'nope'"),
        ({"team": "nope"}, NotFound, "no team named 'nope'"),
        ({"workers_per_item": 0}, InputError, "workers per item must be a whole number"),
        ({"task_time_limit_s": 30_000}, InputError, "between 1 and 28800"),
        ({"task_lifetime_s": 1.5}, InputError, "task lifetime"),
        ({"max_concurrent_tasks": -1}, InputError, "max concurrent"),
        ({"price_per_task": -0.01}, InputError, "price per task"),
        ({"labels": ("cat", "cat")}, InputError, "given twice"),
        ({"labels": ("cat", " dog")}, InputError, "outer spaces"),
        ({"subset": Subset(query="nothing-matches")}, InputError, "no images .* match"),
    ],
)
def test_bad_job_specs_are_refused_and_nothing_is_stored(
    sqlite_lab: Lab, overrides: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        sqlite_lab.job(**overrides)
    with sqlite_lab.project.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 0
        assert session.scalar(select(func.count()).select_from(TaskRow)) == 0


def test_job_names_are_unique(sqlite_lab: Lab) -> None:
    sqlite_lab.job()
    with pytest.raises(AlreadyExists, match="pets-job"):
        sqlite_lab.job()
    with sqlite_lab.project.session() as session, pytest.raises(NotFound, match="pets-job"):
        get_job(session, "missing")


def test_box_jobs_need_image_sizes(sqlite_lab: Lab) -> None:
    with sqlite_lab.project.session() as session:
        dataset = store.create_dataset(session, "unsized", LabelSet.from_names(["cat"]))
        store.insert_items(session, dataset.id, [store.NewItem(ImageRecord("/x/a.jpg"))])
    with pytest.raises(InputError, match=r"no known size.*--verify-images"):
        sqlite_lab.job(dataset="unsized", task_type=TaskType.BOUNDING_BOX)
    sqlite_lab.job(dataset="unsized")  # classification does not need them


def test_a_job_without_labels_is_refused(sqlite_lab: Lab) -> None:
    with sqlite_lab.project.session() as session:
        dataset = store.create_dataset(session, "bare", LabelSet({}))
        store.insert_items(session, dataset.id, [store.NewItem(ImageRecord("/x/a.jpg"))])
    with pytest.raises(InputError, match=r"no labels yet.*--labels"):
        sqlite_lab.job(dataset="bare")


def test_a_cancelled_job_hands_out_nothing_more(sqlite_lab: Lab) -> None:
    job = sqlite_lab.job()
    alice = sqlite_lab.users["alice"]
    assert next_task(sqlite_lab.db, job, alice) is not None
    with sqlite_lab.project.session() as session:
        cancel_job(session, job)
    assert next_task(sqlite_lab.db, job, alice) is None
    with sqlite_lab.project.session() as session:
        assert job_progress(session, job).status == JobStatus.STOPPED
        assert jobs_for_worker(session, alice) == []


def test_a_worker_sees_only_the_jobs_of_their_teams(sqlite_lab: Lab) -> None:
    job = sqlite_lab.job(workers_per_item=2)
    alice = sqlite_lab.users["alice"]
    next_task(sqlite_lab.db, job, alice)
    with sqlite_lab.project.session() as session:
        (view,) = jobs_for_worker(session, alice)
        assert (view.job_id, view.name) == (job, "pets-job")
        assert view.task_type is TaskType.CLASSIFICATION
        assert (view.waiting, view.mine_in_progress) == (ITEMS - 1, 1)
        assert not view.waiting_more
        assert jobs_for_worker(session, sqlite_lab.users["mallory"]) == []


def test_a_large_job_counts_what_waits_up_to_a_limit(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite and on PostgreSQL: "my jobs" never walks a whole large job."""
    monkeypatch.setattr(progress, "WAITING_COUNTED", 3)
    lab.job()
    with lab.project.session() as session:
        (view,) = jobs_for_worker(session, lab.users["alice"])
    assert (view.waiting, view.waiting_more) == (3, True)


def test_two_running_jobs_cannot_write_one_attribute(sqlite_lab: Lab) -> None:
    first = sqlite_lab.job("first", label_attribute="animal")
    with pytest.raises(InputError, match="job 'first' is still writing labels under 'animal'"):
        sqlite_lab.job("second", label_attribute="animal")
    with sqlite_lab.project.session() as session:
        cancel_job(session, first)
    sqlite_lab.job("second", label_attribute="animal")


def test_a_job_whose_tasks_all_expired_is_closed(lab: Lab) -> None:
    """On SQLite and on PostgreSQL: not while a task is still available or a lease runs."""
    job = lab.job(task_lifetime_s=60, task_time_limit_s=600)
    other = lab.job(name="other-job", label_attribute="other")
    alice = lab.users["alice"]
    task = next_task(lab.db, job, alice, now=later(0))
    assert task is not None
    submit(lab.db, task.task_id, alice, client_id="c1", answer=Classification("cat"),
           seconds=1.0, now=later(1))
    held = next_task(lab.db, job, alice, now=later(30))  # leased until 630 s from now
    assert held is not None
    with lab.project.session() as session:
        assert close_expired_jobs(session, now=later(30)) == []  # tasks still available
        assert close_expired_jobs(session, now=later(120)) == []  # one lease still runs
        assert close_expired_jobs(session, now=later(700)) == ["pets-job"]
    with lab.project.session() as session:
        progress = job_progress(session, job, now=later(700))
        assert (progress.status, progress.done, progress.expired) == (
            JobStatus.COMPLETED, 1, ITEMS - 1)
        assert get_job(session, other).status == JobStatus.IN_PROGRESS  # its lifetime is 10 days
