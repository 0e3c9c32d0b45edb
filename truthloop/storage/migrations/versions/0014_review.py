"""human review: task templates, flow definitions, human loops, their events and webhooks

Revision ID: 0014_review
Revises: 0013_imports
Create Date: 2026-12-04
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014_review"
down_revision = "0013_imports"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _created(table: str) -> list[Any]:
    return [
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk(table, "created_by", "users", "SET NULL"),
    ]


def upgrade() -> None:
    op.create_table(
        "review_task_uis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        *_created("review_task_uis"),
        sa.PrimaryKeyConstraint("id", name="pk_review_task_uis"),
        sa.UniqueConstraint("name", name="uq_review_task_uis_name"),
    )
    op.create_table(
        "review_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("ui_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("lifetime_s", sa.Integer(), nullable=False),
        sa.Column("time_limit_s", sa.Integer(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("conditions", JSON, nullable=True),
        sa.Column("model_version", sa.String(160), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        *_created("review_flows"),
        _fk("review_flows", "team_id", "teams"),
        _fk("review_flows", "ui_id", "review_task_uis"),
        _fk("review_flows", "job_id", "jobs"),
        _fk("review_flows", "dataset_id", "datasets"),
        sa.PrimaryKeyConstraint("id", name="pk_review_flows"),
        sa.UniqueConstraint("name", name="uq_review_flows_name"),
    )
    op.create_table(
        "human_loops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("input_content", sa.Text(), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("data_attributes", JSON, nullable=True),
        sa.Column("activation", JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_code", sa.String(32), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("output_uri", sa.Text(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        *_created("human_loops"),
        _fk("human_loops", "flow_id", "review_flows", "CASCADE"),
        _fk("human_loops", "item_id", "items"),
        sa.PrimaryKeyConstraint("id", name="pk_human_loops"),
        sa.UniqueConstraint("name", name="uq_human_loops_name"),
    )
    op.create_index("ix_human_loops_flow_created", "human_loops", ["flow_id", "created_at"])
    op.create_index("ix_human_loops_status", "human_loops", ["status"])
    op.create_table(
        "review_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_created("review_webhooks"),
        _fk("review_webhooks", "flow_id", "review_flows", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_review_webhooks"),
    )
    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=True),
        sa.Column("loop_name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("review_events", "flow_id", "review_flows", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_review_events"),
    )
    op.create_index("ix_review_events_flow_id", "review_events", ["flow_id", "id"])
    op.create_table(
        "review_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts_log", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("review_deliveries", "event_id", "review_events", "CASCADE"),
        _fk("review_deliveries", "webhook_id", "review_webhooks", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_review_deliveries"),
        sa.UniqueConstraint("event_id", "webhook_id", name="uq_review_deliveries_event_id"),
    )
    op.create_index(
        "ix_review_deliveries_due", "review_deliveries", ["delivered_at", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_review_deliveries_due", table_name="review_deliveries")
    op.drop_table("review_deliveries")
    op.drop_index("ix_review_events_flow_id", table_name="review_events")
    op.drop_table("review_events")
    op.drop_table("review_webhooks")
    op.drop_index("ix_human_loops_status", table_name="human_loops")
    op.drop_index("ix_human_loops_flow_created", table_name="human_loops")
    op.drop_table("human_loops")
    op.drop_table("review_flows")
    op.drop_table("review_task_uis")
