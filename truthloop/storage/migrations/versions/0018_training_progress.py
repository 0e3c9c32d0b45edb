"""model versions: the latest training progress, and the inference units a start asked for

Revision ID: 0018_training_progress
Revises: 0017_backlog_alert
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018_training_progress"
down_revision = "0017_backlog_alert"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("training_progress", JSON, nullable=True))
        batch.add_column(sa.Column("inference_units", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("inference_units")
        batch.drop_column("training_progress")
