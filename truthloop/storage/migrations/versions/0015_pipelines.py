"""continuous model improvement: pipelines, their parameters and changes, runs and steps

Revision ID: 0015_pipelines
Revises: 0014_review
Create Date: 2026-12-04
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015_pipelines"
down_revision = "0014_review"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _execution() -> list[sa.Column[Any]]:
    """What a run and a step both record: state, start, end, input, output and error."""
    return [
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("input", JSON, nullable=False),
        sa.Column("output", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=True),
        sa.Column("deployed_version", sa.String(160), nullable=True),
        sa.Column("trained_images", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("pipelines", "flow_id", "review_flows", "SET NULL"),
        _fk("pipelines", "created_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_pipelines"),
        sa.UniqueConstraint("name", name="uq_pipelines_name"),
    )
    op.create_table(
        "pipeline_params",
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("pipeline_params", "pipeline_id", "pipelines", "CASCADE"),
        _fk("pipeline_params", "updated_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("pipeline_id", "name", name="pk_pipeline_params"),
    )
    op.create_table(
        "pipeline_param_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        _fk("pipeline_param_changes", "pipeline_id", "pipelines", "CASCADE"),
        _fk("pipeline_param_changes", "changed_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_param_changes"),
    )
    op.create_index(
        "ix_pipeline_param_changes_pipeline_id", "pipeline_param_changes", ["pipeline_id", "id"]
    )
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        *_execution(),
        _fk("pipeline_runs", "pipeline_id", "pipelines", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_runs"),
    )
    op.create_index("ix_pipeline_runs_pipeline_id", "pipeline_runs", ["pipeline_id", "id"])
    op.create_index("ix_pipeline_runs_status", "pipeline_runs", ["status"])
    op.create_table(
        "pipeline_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        *_execution(),
        _fk("pipeline_steps", "run_id", "pipeline_runs", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_steps"),
    )
    op.create_index("ix_pipeline_steps_run_id", "pipeline_steps", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_steps_run_id", table_name="pipeline_steps")
    op.drop_table("pipeline_steps")
    op.drop_index("ix_pipeline_runs_status", table_name="pipeline_runs")
    op.drop_index("ix_pipeline_runs_pipeline_id", table_name="pipeline_runs")
    op.drop_table("pipeline_runs")
    op.drop_index("ix_pipeline_param_changes_pipeline_id", table_name="pipeline_param_changes")
    op.drop_table("pipeline_param_changes")
    op.drop_table("pipeline_params")
    op.drop_table("pipelines")
