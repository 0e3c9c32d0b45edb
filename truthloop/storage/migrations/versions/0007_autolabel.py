"""automated labeling: a job's terms, its validation items and its iterations

Revision ID: 0007_autolabel
Revises: 0006_feedback
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007_autolabel"
down_revision = "0006_feedback"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "autolabel_jobs",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("target_accuracy", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("validation_size", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Float(), nullable=True),
        sa.Column("compute_price_per_hour", sa.Float(), nullable=False),
        sa.Column("sampling", sa.String(length=16), nullable=False),
        sa.Column("model_project", sa.String(length=128), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=True),
        sa.Column("backend_params", Json, nullable=False),
        sa.Column("initial_model", sa.String(length=160), nullable=True),
        sa.Column("latest_model", sa.String(length=160), nullable=True),
        sa.Column("train_passes", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("batch_started_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_autolabel_jobs_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name="pk_autolabel_jobs"),
    )
    op.create_table(
        "autolabel_validation",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_autolabel_validation_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name="fk_autolabel_validation_item_id_items",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "item_id", name="pk_autolabel_validation"),
    )
    op.create_table(
        "autolabel_iterations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("human_labeled", sa.Integer(), nullable=False),
        sa.Column("machine_labeled", sa.Integer(), nullable=False),
        sa.Column("validation_items", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("validation_accuracy", sa.Float(), nullable=True),
        sa.Column("accuracy_bound", sa.Float(), nullable=True),
        sa.Column("mean_iou", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=160), nullable=True),
        sa.Column("human_seconds", sa.Float(), nullable=False),
        sa.Column("compute_seconds", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_autolabel_iterations_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_autolabel_iterations"),
        sa.UniqueConstraint("job_id", "number", name="uq_autolabel_iterations_job_id"),
    )


def downgrade() -> None:
    op.drop_table("autolabel_iterations")
    op.drop_table("autolabel_validation")
    op.drop_table("autolabel_jobs")
