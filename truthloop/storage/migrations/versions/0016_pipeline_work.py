"""pipeline work: intake location and schedules, the detection log, accruals, work claims,
subscribers, notifications and their deliveries

Revision ID: 0016_pipeline_work
Revises: 0015_pipelines
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016_pipeline_work"
down_revision = "0015_pipelines"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("model", JSON, nullable=True))
        batch.add_column(sa.Column("intake_uri", sa.Text(), nullable=True))
        batch.add_column(sa.Column("training_tick_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sampling_tick_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("sampled_through", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "pipeline_detections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("intake_key", sa.Text(), nullable=True),
        sa.Column("image_uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("version", sa.String(160), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("minimum_confidence", sa.Float(), nullable=False),
        sa.Column("review_enabled", sa.Boolean(), nullable=False),
        sa.Column("loop_name", sa.String(63), nullable=True),
        sa.Column("sampled", sa.Boolean(), nullable=False),
        sa.Column("audit_loop", sa.String(63), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("pipeline_detections", "pipeline_id", "pipelines", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_detections"),
        sa.UniqueConstraint("request_id", name="uq_pipeline_detections_request_id"),
        sa.UniqueConstraint(
            "pipeline_id", "intake_key", name="uq_pipeline_detections_intake_key"
        ),
    )
    op.create_index(
        "ix_pipeline_detections_pipeline_id", "pipeline_detections", ["pipeline_id", "id"]
    )
    op.create_table(
        "pipeline_accruals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("loop_name", sa.String(63), nullable=False),
        sa.Column("detection_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("answer", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("pipeline_accruals", "pipeline_id", "pipelines", "CASCADE"),
        _fk("pipeline_accruals", "detection_id", "pipeline_detections", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_accruals"),
        sa.UniqueConstraint(
            "pipeline_id", "loop_name", name="uq_pipeline_accruals_pipeline_id"
        ),
    )
    op.create_table(
        "work_claims",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_work_claims"),
    )
    op.create_table(
        "pipeline_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=True),
        sa.Column("events", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("pipeline_subscribers", "pipeline_id", "pipelines", "CASCADE"),
        _fk("pipeline_subscribers", "created_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_subscribers"),
    )
    op.create_table(
        "pipeline_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("pipeline_notifications", "pipeline_id", "pipelines", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_notifications"),
    )
    op.create_index(
        "ix_pipeline_notifications_pipeline_id", "pipeline_notifications", ["pipeline_id", "id"]
    )
    op.create_table(
        "pipeline_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts_log", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("pipeline_deliveries", "notification_id", "pipeline_notifications", "CASCADE"),
        _fk("pipeline_deliveries", "subscriber_id", "pipeline_subscribers", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_deliveries"),
        sa.UniqueConstraint(
            "notification_id", "subscriber_id", name="uq_pipeline_deliveries_notification_id"
        ),
    )
    op.create_index(
        "ix_pipeline_deliveries_due", "pipeline_deliveries", ["delivered_at", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_pipeline_deliveries_due", table_name="pipeline_deliveries")
    op.drop_table("pipeline_deliveries")
    op.drop_index("ix_pipeline_notifications_pipeline_id", table_name="pipeline_notifications")
    op.drop_table("pipeline_notifications")
    op.drop_table("pipeline_subscribers")
    op.drop_table("work_claims")
    op.drop_table("pipeline_accruals")
    op.drop_index("ix_pipeline_detections_pipeline_id", table_name="pipeline_detections")
    op.drop_table("pipeline_detections")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("sampled_through")
        batch.drop_column("sampling_tick_at")
        batch.drop_column("training_tick_at")
        batch.drop_column("intake_uri")
        batch.drop_column("model")
