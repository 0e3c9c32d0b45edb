"""The tables. Every change here comes with an Alembic migration in migrations/versions/.

The foundation holds datasets of images and their annotations. Later workflows (labeling jobs
and tasks, model versions, human loops, pipeline runs) add their own tables and point at these:
an annotation already records who made it (`worker`), in which job (`job_name`), how long it took
(`seconds`) and whether a person, a model or a consolidation of several people made it
(`source`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so that Alembic migrations can address them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class LabelSetRow(Base):
    __tablename__ = "label_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    labels: Mapped[list[LabelRow]] = relationship(
        back_populates="label_set", order_by="LabelRow.class_id", cascade="all, delete-orphan"
    )


class LabelRow(Base):
    """One class of a label set; `class_id` is the integer manifests use for it."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("label_set_id", "name", name="uq_labels_set_name"),
        UniqueConstraint("label_set_id", "class_id", name="uq_labels_set_class_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    class_id: Mapped[int] = mapped_column(Integer)
    label_set: Mapped[LabelSetRow] = relationship(back_populates="labels")


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    label_set: Mapped[LabelSetRow] = relationship()


class ItemRow(Base):
    """One image of a dataset. `uri` is where to read it: a local path, or an fsspec URL."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "uri", name="uq_items_dataset_uri"),
        # Equal hashes are the same image; items whose image was not read have none, and no
        # entry (an import of a million unread images would write a million NULL entries).
        Index(
            "ix_items_dataset_hash",
            "dataset_id",
            "content_hash",
            unique=True,
            postgresql_where=text("content_hash IS NOT NULL"),
            sqlite_where=text("content_hash IS NOT NULL"),
        ),
        Index("ix_items_dataset_split", "dataset_id", "split"),
        # Exports and training sets read a dataset in id order, a batch after a given id; without
        # it the database finds the batch by sorting every item of the dataset, for each batch.
        Index("ix_items_dataset_id", "dataset_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    # Compared byte by byte on PostgreSQL: the same equality, cheaper index upkeep.
    uri: Mapped[str] = mapped_column(Text().with_variant(Text(collation="C"), "postgresql"))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    split: Mapped[str] = mapped_column(String(16), default="unassigned")
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AnnotationRow(Base):
    """One label attribute of one item: the value (class, classes, boxes or a verdict) and who
    made it, when, in which job, how confidently and in how many seconds."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_item", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    attribute: Mapped[str | None] = mapped_column(String(256))
    value: Mapped[dict[str, Any]] = mapped_column(Json)
    source: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(256))
    job_name: Mapped[str | None] = mapped_column(String(256))
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    extra: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class UserRow(Base):
    """A person who signs in: an admin, a manager or a worker."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="worker")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TeamRow(Base):
    """A private work team; a worker sees only the jobs of the teams they belong to."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TeamMemberRow(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiTokenRow(Base):
    """A token for scripts; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: the token works until it is revoked (or its user deactivated or given a new password).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)


class SignInSessionRow(Base):
    """A signed-in browser: its cookie holds the secret, of which only the SHA-256 is kept here.
    Deleting the row ends the session, whoever holds a copy of the cookie."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_sign_in_sessions_user_id", "user_id"),
        Index("ix_sign_in_sessions_expires_at", "expires_at"),
    )


class SignInAttemptRow(Base):
    """Failed sign-ins for one user name from one address, seen by every portal process. The
    name is kept as a SHA-256 of its casefolded form: people type passwords into the name field."""

    __tablename__ = "sign_in_attempts"

    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_sign_in_attempts_last_failed_at", "last_failed_at"),)


class InvitationRow(Base):
    """A one-time link that lets an invited person set their password."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class JobRow(Base):
    """A labeling job: which items of a dataset, which task, which team, and on what terms.

    Automated labeling (iterations, machine labels, a validation set, a budget) and batches of
    model proposals add their own columns and tables later; `JobItemRow.batch` is where an
    item's release round is kept.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    task_type: Mapped[str] = mapped_column(String(32))
    label_attribute: Mapped[str] = mapped_column(String(256))
    labels: Mapped[list[str]] = mapped_column(Json)
    verification_categories: Mapped[list[str]] = mapped_column(Json)
    instructions: Mapped[str] = mapped_column(Text, default="")
    workers_per_item: Mapped[int] = mapped_column(Integer)
    task_time_limit_s: Mapped[int] = mapped_column(Integer)
    task_lifetime_s: Mapped[int] = mapped_column(Integer)
    max_concurrent_tasks: Mapped[int] = mapped_column(Integer)
    price_per_task: Mapped[float] = mapped_column(Float)
    proposals: Mapped[str | None] = mapped_column(String(256))
    subset: Mapped[dict[str, Any] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)


class JobItemRow(Base):
    """One item of a job: released for labeling in round `batch`, open until consolidated."""

    __tablename__ = "job_items"
    # With item_id last, "the job's first open item" reads one index entry, where (job, status)
    # alone let PostgreSQL's planner walk past every item already done (migration 0004).
    __table_args__ = (Index("ix_job_items_job_status_item", "job_id", "status", "item_id"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    batch: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    done_at: Mapped[datetime | None] = mapped_column(DateTime)


_WAITING = text("status = 'waiting'")
_LEASED = text("status = 'leased'")


class TaskRow(Base):
    """One worker slot of one item: waiting, leased to `worker_id` until `lease_expires_at`, or
    submitted by `worker_id`. An expired lease counts as waiting again.

    The partial indexes hold the slots a claim looks at (labeling/slots.py, migration 0012):
    the waiting ones in claim order, so that a claim reads the first entries of its job and
    stops, however many slots the job has; and the leased ones, few at any time, by expiry
    (those that ran out come first; the worker's own live ones are read from the index alone).
    Answered slots are in neither, so a job's history never slows a claim, and a submit writes
    no entry into them.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("job_id", "item_id", "slot", name="uq_tasks_job_item_slot"),
        Index(
            "ix_tasks_waiting",
            "job_id",
            "id",
            postgresql_where=_WAITING,
            sqlite_where=_WAITING,
        ),
        Index(
            "ix_tasks_leased",
            "job_id",
            "lease_expires_at",
            "worker_id",
            postgresql_where=_LEASED,
            sqlite_where=_LEASED,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    leased_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    available_until: Mapped[datetime] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)


class TaskLeaseRow(Base):
    """Every lease ever granted. One per worker and item of a job, which is what keeps a worker
    from getting the same item twice, and what lets a late submit prove it held the task."""

    __tablename__ = "task_leases"
    __table_args__ = (
        UniqueConstraint("job_id", "item_id", "worker_id", name="uq_task_leases_job_item_worker"),
        Index("ix_task_leases_task", "task_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    leased_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))


class SubmissionRow(Base):
    """One worker's answer to one task, exactly as given, with the seconds it took.

    `client_id` is made by the client, so a retried submit finds its first copy here.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("worker_id", "client_id", name="uq_submissions_worker_client_id"),
        Index("ix_submissions_job_item", "job_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any]] = mapped_column(Json)
    seconds: Mapped[float] = mapped_column(Float)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    leased_at: Mapped[datetime] = mapped_column(DateTime)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)


class ModelProjectRow(Base):
    """A named line of model versions (Rekognition's project): `logos` holds logos.v1, v2..."""

    __tablename__ = "model_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModelVersionRow(Base):
    """One training of a model project, its artifact and evaluation, and whether it is served.

    Datasets are recorded by name, not by key: a version's history outlives the datasets it
    was trained and tested on. `trainer` ("host:pid") and `heartbeat_at` tell a training that
    is still going from one whose process died.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_model_versions_project_number"),
        Index("ix_model_versions_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("model_projects.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    task: Mapped[str] = mapped_column(String(16))
    backend: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    training_dataset: Mapped[str] = mapped_column(String(128))
    test_dataset: Mapped[str | None] = mapped_column(String(128))
    labels: Mapped[list[str]] = mapped_column(Json, default=list)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(Json)
    training_report: Mapped[dict[str, Any] | None] = mapped_column(Json)
    artifact_uri: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    trainer: Mapped[str | None] = mapped_column(String(256))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The latest progress of a training on request (ml/training_runs.py), for the portal.
    training_progress: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # Recorded as a start asked for them: serving has one process per host, not units yet.
    inference_units: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    training_ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeedbackRunRow(Base):
    """A model-assisted annotation run: a model version's proposals over a dataset, checked by
    a team in batches of labeling jobs, collected into a verified dataset that trains the next
    version. `counts` holds how many proposals people accepted, adjusted, rejected and added."""

    __tablename__ = "feedback_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    model_version: Mapped[str] = mapped_column(String(160))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16))
    batch_size: Mapped[int] = mapped_column(Integer)
    min_confidence: Mapped[float] = mapped_column(Float)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    status: Mapped[str] = mapped_column(String(16))
    verified_dataset: Mapped[str | None] = mapped_column(String(128))
    counts: Mapped[dict[str, Any] | None] = mapped_column(Json)
    human_seconds: Mapped[float | None] = mapped_column(Float)
    next_version: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    collected_at: Mapped[datetime | None] = mapped_column(DateTime)


class FeedbackBatchRow(Base):
    """One batch of a feedback run: the labeling job that shows `size` images' proposals."""

    __tablename__ = "feedback_batches"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_runs.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    proposals: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(Integer)


class AutoLabelJobRow(Base):
    """The automated-labeling terms of a labeling job: the accuracy its machine labels must
    meet and with what confidence, the size of the people's batches and the validation set
    held out of them (and how far that may grow), the budget, and which model it trains (from
    `initial_model` when chained). `batch` is the round of people's labels released last."""

    __tablename__ = "autolabel_jobs"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    task: Mapped[str] = mapped_column(String(16))
    target_accuracy: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    batch_size: Mapped[int] = mapped_column(Integer)
    validation_size: Mapped[int] = mapped_column(Integer)
    # Grows toward this when the bound holds the threshold back; None: a fixed size.
    validation_max: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[float | None] = mapped_column(Float)
    compute_price_per_hour: Mapped[float] = mapped_column(Float)
    sampling: Mapped[str] = mapped_column(String(16))
    model_project: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str | None] = mapped_column(String(32))
    backend_params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    initial_model: Mapped[str | None] = mapped_column(String(160))
    latest_model: Mapped[str | None] = mapped_column(String(160))
    train_passes: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer, default=0)
    batch_started_at: Mapped[datetime | None] = mapped_column(DateTime)


class AutoLabelValidationRow(Base):
    """An item people labeled that the job holds out for choosing thresholds: the model
    never trains on it."""

    __tablename__ = "autolabel_validation"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )


class AutoLabelIterationRow(Base):
    """One iteration of automated labeling: people's batch, the model trained after it, the
    threshold chosen on the validation set and what the machine labeled at or above it."""

    __tablename__ = "autolabel_iterations"
    __table_args__ = (UniqueConstraint("job_id", "number", name="uq_autolabel_iterations_job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    human_labeled: Mapped[int] = mapped_column(Integer)
    machine_labeled: Mapped[int] = mapped_column(Integer)
    validation_items: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float | None] = mapped_column(Float)
    validation_accuracy: Mapped[float | None] = mapped_column(Float)
    accuracy_bound: Mapped[float | None] = mapped_column(Float)
    mean_iou: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(160))
    human_seconds: Mapped[float] = mapped_column(Float)
    compute_seconds: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)
    elapsed_s: Mapped[float] = mapped_column(Float)
    remaining: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImportRow(Base):
    """A dataset import queued for the background worker (`POST /api/datasets/{name}/import`
    of a large file): what to read and how (`options`: import_dataset's keywords), how far it
    got and how it ended. `upload` marks a source the server received, removed once imported."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    fmt: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(Json)
    upload: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), index=True)
    lines_read: Mapped[int] = mapped_column(Integer, default=0)
    items_stored: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class HumanTaskUiRow(Base):
    """A worker task template (A2I's human task UI): HTML, Liquid and Crowd HTML Elements,
    checked when it was created (truthloop/review/templates.py)."""

    __tablename__ = "review_task_uis"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    template: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FlowDefinitionRow(Base):
    """A human review workflow (A2I's flow definition). Its loops are worked as the items of
    `job_id`, a custom-template labeling job of the flow's own dataset, so that reviewers get
    them through the same leases, team membership and "My jobs" as any labeling task."""

    __tablename__ = "review_flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    ui_id: Mapped[int] = mapped_column(ForeignKey("review_task_uis.id"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    task_count: Mapped[int] = mapped_column(Integer)
    lifetime_s: Mapped[int] = mapped_column(Integer)
    time_limit_s: Mapped[int] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(Text)
    conditions: Mapped[dict[str, Any] | None] = mapped_column(Json)
    model_version: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class HumanLoopRow(Base):
    """One review of one data object (A2I's human loop): its input exactly as given, the item
    of the flow's job its tasks belong to, and how it ended."""

    __tablename__ = "human_loops"
    __table_args__ = (
        Index("ix_human_loops_flow_created", "flow_id", "created_at"),
        Index("ix_human_loops_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("review_flows.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    input_content: Mapped[str] = mapped_column(Text)
    input_sha256: Mapped[str] = mapped_column(String(64))
    data_attributes: Mapped[dict[str, Any] | None] = mapped_column(Json)
    activation: Mapped[dict[str, Any] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    output_uri: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebhookRow(Base):
    """Where a manager wants human-loop status changes sent (A2I sends them to EventBridge):
    every event of every flow, or of one flow; signed with `secret` (HMAC-SHA256)."""

    __tablename__ = "review_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("review_flows.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewEventRow(Base):
    """A human loop's status change, in the shape A2I sends to EventBridge (`body`)."""

    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_flow_id", "flow_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("review_flows.id", ondelete="SET NULL"))
    loop_name: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookDeliveryRow(Base):
    """One event on its way to one webhook: tried until the receiver answers 2xx, with
    backoff; every try's outcome is kept in `attempts_log`."""

    __tablename__ = "review_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id", name="uq_review_deliveries_event_id"),
        Index("ix_review_deliveries_due", "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("review_events.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(ForeignKey("review_webhooks.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineRow(Base):
    """A continuous-improvement pipeline (workflow 4) of one model project, named as the
    project: its training dataset, its review flow, the version it serves and how many labeled
    images that version trained on (the seed's `previous_trained_images`)."""

    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    task: Mapped[str] = mapped_column(String(16))
    dataset: Mapped[str] = mapped_column(String(128))
    flow_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_flows.id", ondelete="SET NULL")
    )
    deployed_version: Mapped[str | None] = mapped_column(String(160))
    trained_images: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The model a first version trains as ({"backend": kind, "params": {...}}); None: the
    # built-in model for the task. Later versions train as the deployed one's model.
    model: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # The watched intake location (a folder or an s3:// prefix); None: uploads only.
    intake_uri: Mapped[str | None] = mapped_column(Text)
    # When each schedule last fired (None: never, so its first tick is due at once).
    training_tick_at: Mapped[datetime | None] = mapped_column(DateTime)
    sampling_tick_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The last detection a sampling tick counted up to: the next counts from the one after.
    sampled_through: Mapped[int] = mapped_column(Integer, default=0)
    # When subscribers were told the review backlog reached Review-Backlog-Alert; None once it
    # is seen below it again, so that each crossing is told once (notify.check_backlog).
    backlog_alerted_at: Mapped[datetime | None] = mapped_column(DateTime)


class PipelineParamRow(Base):
    """A pipeline parameter's value in force, as the seed's parameter store keeps it: text
    ("true", "720", "0.8"), read by `core.pipeline_params.parse_value`."""

    __tablename__ = "pipeline_params"

    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineParamChangeRow(Base):
    """One change of one pipeline parameter: the text before (None: no value was stored) and
    after, who made it and when."""

    __tablename__ = "pipeline_param_changes"
    __table_args__ = (Index("ix_pipeline_param_changes_pipeline_id", "pipeline_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineRunRow(Base):
    """One execution of a pipeline (a Step Functions execution in the seed): its kind, state,
    start and end, input and output summary, and the error that ended it."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_pipeline_id", "pipeline_id", "id"),
        Index("ix_pipeline_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    input: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    output: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(Text)


class PipelineStepRow(Base):
    """One step of a run (a state of the seed's state machine), recorded as the run's are."""

    __tablename__ = "pipeline_steps"
    __table_args__ = (Index("ix_pipeline_steps_run_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    input: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    output: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(Text)


class PipelineDetectionRow(Base):
    """One image the pipeline detected on (the seed's detection log): where it came from, its
    content hash, the version that answered, what it found, the minimum in force and whether
    review was on, and the loops it started (review, audit)."""

    __tablename__ = "pipeline_detections"
    __table_args__ = (
        Index("ix_pipeline_detections_pipeline_id", "pipeline_id", "id"),
        UniqueConstraint("pipeline_id", "intake_key", name="uq_pipeline_detections_intake_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    # The intake object this detection came from (None for an upload): seen once, ever.
    intake_key: Mapped[str | None] = mapped_column(Text)
    image_uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(160))
    labels: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    confidence: Mapped[float | None] = mapped_column(Float)
    minimum_confidence: Mapped[float] = mapped_column(Float)
    review_enabled: Mapped[bool] = mapped_column(Boolean)
    loop_name: Mapped[str | None] = mapped_column(String(63))
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    audit_loop: Mapped[str | None] = mapped_column(String(63))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineAccrualRow(Base):
    """What one completed loop gave the pipeline, recorded once (the unique loop name makes a
    completion delivered twice a no-op): a training image with the reviewer's label, nothing
    ("None of the Above"), or an audit's verdict on the deployed version."""

    __tablename__ = "pipeline_accruals"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "loop_name", name="uq_pipeline_accruals_pipeline_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    loop_name: Mapped[str] = mapped_column(String(63))
    detection_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_detections.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WorkClaimRow(Base):
    """A lease on one piece of background work (an iteration, a training): held by one worker
    process ("host:pid") until `until`, renewed while it works. A claim whose holder is gone or
    whose lease ran out is taken over, so a killed worker's work is done by another."""

    __tablename__ = "work_claims"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    until: Mapped[datetime] = mapped_column(DateTime)
    claimed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineSubscriberRow(Base):
    """Who is told of a pipeline's events: an e-mail address or a webhook URL (signed with
    `secret`), for every event or those listed in `events`."""

    __tablename__ = "pipeline_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(128))
    events: Mapped[list[str]] = mapped_column(Json, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineNotificationRow(Base):
    """One thing a pipeline told its subscribers: the event, a subject and a body that say what
    happened and what to do, and the facts as data."""

    __tablename__ = "pipeline_notifications"
    __table_args__ = (Index("ix_pipeline_notifications_pipeline_id", "pipeline_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PipelineDeliveryRow(Base):
    """One notification on its way to one subscriber: tried with backoff until sent; every
    try's outcome is kept in `attempts_log`."""

    __tablename__ = "pipeline_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "notification_id", "subscriber_id", name="uq_pipeline_deliveries_notification_id"
        ),
        Index("ix_pipeline_deliveries_due", "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_notifications.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_subscribers.id", ondelete="CASCADE")
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
