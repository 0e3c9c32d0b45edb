"""pipelines: when subscribers were last told of a review backlog

Revision ID: 0017_backlog_alert
Revises: 0016_pipeline_work
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_backlog_alert"
down_revision = "0016_pipeline_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("backlog_alerted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("backlog_alerted_at")
