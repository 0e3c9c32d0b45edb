"""labeling jobs, their items, task slots, leases and submissions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("task_type", sa.String(32), nullable=False),
        sa.Column("label_attribute", sa.String(256), nullable=False),
        sa.Column("labels", Json, nullable=False),
        sa.Column("verification_categories", Json, nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("workers_per_item", sa.Integer(), nullable=False),
        sa.Column("task_time_limit_s", sa.Integer(), nullable=False),
        sa.Column("task_lifetime_s", sa.Integer(), nullable=False),
        sa.Column("max_concurrent_tasks", sa.Integer(), nullable=False),
        sa.Column("price_per_task", sa.Float(), nullable=False),
        sa.Column("proposals", sa.String(256), nullable=True),
        sa.Column("subset", Json, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("name", name="uq_jobs_name"),
        _fk("jobs", "dataset_id", "datasets", "CASCADE"),
        _fk("jobs", "team_id", "teams"),
        _fk("jobs", "created_by", "users", "SET NULL"),
    )
    op.create_table(
        "job_items",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "item_id", name="pk_job_items"),
        _fk("job_items", "job_id", "jobs", "CASCADE"),
        _fk("job_items", "item_id", "items", "CASCADE"),
    )
    op.create_index("ix_job_items_job_status", "job_items", ["job_id", "status"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("leased_at", sa.DateTime(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("available_until", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.UniqueConstraint("job_id", "item_id", "slot", name="uq_tasks_job_item_slot"),
        _fk("tasks", "job_id", "jobs", "CASCADE"),
        _fk("tasks", "item_id", "items", "CASCADE"),
        _fk("tasks", "worker_id", "users", "SET NULL"),
    )
    op.create_index("ix_tasks_job_status", "tasks", ["job_id", "status", "id"])
    op.create_index("ix_tasks_job_worker", "tasks", ["job_id", "worker_id"])
    op.create_table(
        "task_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("leased_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task_leases"),
        sa.UniqueConstraint(
            "job_id", "item_id", "worker_id", name="uq_task_leases_job_item_worker"
        ),
        _fk("task_leases", "task_id", "tasks", "CASCADE"),
        _fk("task_leases", "job_id", "jobs", "CASCADE"),
        _fk("task_leases", "item_id", "items", "CASCADE"),
        _fk("task_leases", "worker_id", "users", "CASCADE"),
    )
    op.create_index("ix_task_leases_task", "task_leases", ["task_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("answer", Json, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("leased_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.UniqueConstraint("worker_id", "client_id", name="uq_submissions_worker_client_id"),
        _fk("submissions", "task_id", "tasks", "CASCADE"),
        _fk("submissions", "job_id", "jobs", "CASCADE"),
        _fk("submissions", "item_id", "items", "CASCADE"),
        _fk("submissions", "worker_id", "users"),
    )
    op.create_index("ix_submissions_job_item", "submissions", ["job_id", "item_id"])


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("task_leases")
    op.drop_table("tasks")
    op.drop_table("job_items")
    op.drop_table("jobs")
