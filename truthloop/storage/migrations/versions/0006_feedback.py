"""feedback runs and their batches of labeling jobs

Revision ID: 0006_feedback
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_feedback"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "feedback_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(160), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verified_dataset", sa.String(128), nullable=True),
        sa.Column("counts", Json, nullable=True),
        sa.Column("human_seconds", sa.Float(), nullable=True),
        sa.Column("next_version", sa.String(160), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("collected_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feedback_runs"),
        sa.UniqueConstraint("name", name="uq_feedback_runs_name"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"],
            name="fk_feedback_runs_dataset_id_datasets", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_feedback_runs_team_id_teams"),
    )
    op.create_table(
        "feedback_batches",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("proposals", sa.String(256), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "number", name="pk_feedback_batches"),
        sa.UniqueConstraint("job_id", name="uq_feedback_batches_job_id"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["feedback_runs.id"],
            name="fk_feedback_batches_run_id_feedback_runs", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_feedback_batches_job_id_jobs", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("feedback_batches")
    op.drop_table("feedback_runs")
