"""an automated-labeling job's validation set may grow, up to `validation_max` items, when the
confidence bound (not the model) keeps the machine from labeling

Revision ID: 0010_validation_grows
Revises: 0009_lighter_item_indexes
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_validation_grows"
down_revision = "0009_lighter_item_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("autolabel_jobs") as table:
        table.add_column(sa.Column("validation_max", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("autolabel_jobs") as table:
        table.drop_column("validation_max")
