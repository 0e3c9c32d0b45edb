from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from truthloop.core.types import (
    Annotation,
    Box,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    MultiLabel,
    Source,
    Split,
    Verification,
)
from truthloop.errors import AlreadyExists, NotFound
from truthloop.storage import datasets as store
from truthloop.storage.db import Database
from truthloop.storage.project import Project

TABLES = {
    "label_sets",
    "labels",
    "datasets",
    "items",
    "annotations",
    "users",
    "teams",
    "team_members",
    "api_tokens",
    "invitations",
    "sign_in_sessions",
    "sign_in_attempts",
    "jobs",
    "job_items",
    "tasks",
    "task_leases",
    "submissions",
    "model_projects",
    "model_versions",
    "feedback_runs",
    "feedback_batches",
    "autolabel_jobs",
    "autolabel_validation",
    "autolabel_iterations",
}


def test_migrations_create_every_table_and_go_back_down(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    db.downgrade("base")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    db.upgrade()
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_project: Project) -> None:
    with sqlite_project.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def _records() -> list[ImageRecord]:
    when = datetime(2018, 10, 18, 22, 18, 13, 527256)
    return [
        ImageRecord(
            "s3://bucket/a.jpg",
            ImageSize(500, 400, 3),
            (
                Annotation(
                    Boxes((Box("dog", 111, 134, 61, 128, 0.8), Box("bone", 161, 250, 30, 30, 0.9))),
                    attribute="bb",
                    job_name="identify-dogs",
                    created_at=when,
                ),
                Annotation(
                    Verification("bad", 1, 0.93, ("box too wide",)),
                    attribute="verify-bb",
                    created_at=when,
                    metadata={"custom-key": [1, 2]},
                ),
            ),
            extra={"app-id": "42"},
            split=Split.TRAIN,
        ),
        ImageRecord(
            "/data/b.png",
            None,
            (
                Annotation(Classification("cat", 0.55), source=Source.MODEL, attribute="species"),
                Annotation(
                    MultiLabel(("cat", "toy"), (0.9, None)),
                    source=Source.CONSOLIDATED,
                    worker="w1",
                    seconds=3.5,
                ),
            ),
        ),
        ImageRecord("/data/c.png"),
    ]


def test_records_round_trip_through_the_database(project: Project) -> None:
    records = _records()
    with project.session() as session:
        dataset = store.create_dataset(session, "pets", LabelSet({"dog": 0, "bone": 5}))
        ids = store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
        assert len(ids) == 3
    with project.session() as session:
        dataset = store.get_dataset(session, "pets")
        got = [r for _, r in store.iter_records(session, dataset.id, batch=2)]
        assert store.label_set_of(session, dataset) == LabelSet({"dog": 0, "bone": 5})
    expected = [
        r if r.split else ImageRecord(r.uri, r.size, r.annotations, r.extra, Split.UNASSIGNED)
        for r in records
    ]
    assert got == expected


def test_summary_counts_images_and_objects_per_label_attribute_and_split(
    project: Project,
) -> None:
    truth = ImageRecord("/data/d.png", None, (
        Annotation(Classification("cat"), attribute="species"),
        Annotation(Classification("dog"), attribute="bb"),
    ))
    with project.session() as session:
        dataset = store.create_dataset(session, "pets", LabelSet.from_names(["dog", "bone"]))
        records = [*_records(), truth]
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in records])
        summary = store.summarize(session, dataset)
    assert summary.items == 4
    assert summary.items_per_split == {"train": 1, "unassigned": 3}
    assert summary.sources == {"human": 4, "model": 1, "consolidated": 1}
    # The two labelings of "cat" (a model's under "species", a consolidated one under none)
    # are counted apart, as are two images labeled under the same attribute.
    assert summary.attributes == (
        store.LabelCounts(None, 1, {"cat": 1, "toy": 1}, {"cat": 1, "toy": 1},
                          {"consolidated": 1}),
        store.LabelCounts("bb", 2, {"dog": 2, "bone": 1}, {"dog": 2, "bone": 1}, {"human": 2}),
        store.LabelCounts("species", 2, {"cat": 2}, {"cat": 2}, {"model": 1, "human": 1}),
        store.LabelCounts("verify-bb", 1, {}, {}, {"human": 1}),
    )


def test_names_are_unique_and_missing_ones_are_named(project: Project) -> None:
    with project.session() as session:
        store.create_dataset(session, "pets", LabelSet({}))
    with pytest.raises(AlreadyExists, match="pets"), project.session() as session:
        store.create_dataset(session, "pets", LabelSet({}))
    with pytest.raises(NotFound, match=r"'nope'.*pets"), project.session() as session:
        store.get_dataset(session, "nope")


def test_delete_dataset_removes_items_and_annotations(project: Project) -> None:
    with project.session() as session:
        dataset = store.create_dataset(session, "pets", LabelSet({}))
        store.insert_items(session, dataset.id, [store.NewItem(r) for r in _records()])
        store.create_dataset(session, "other", LabelSet({}))
    with project.session() as session:
        store.delete_dataset(session, store.get_dataset(session, "pets"))
    with project.session() as session:
        assert [d.name for d, _ in store.list_datasets(session)] == ["other"]
        assert session.execute(text("select count(*) from annotations")).scalar() == 0


def test_open_refuses_a_folder_that_is_not_a_project(tmp_path: Path) -> None:
    from truthloop.errors import ConfigError

    with pytest.raises(ConfigError, match="truthloop init"):
        Project.open(tmp_path / "missing")


def test_migrations_match_the_tables_in_code(database_url: str) -> None:
    """Every table change in tables.py has its migration: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from truthloop.storage.tables import Base

    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []
