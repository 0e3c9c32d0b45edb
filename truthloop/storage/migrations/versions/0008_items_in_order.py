"""a dataset's items in id order, so reading a dataset batch by batch reads each item once

Revision ID: 0008_items_in_order
Revises: 0007_autolabel
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008_items_in_order"
down_revision = "0007_autolabel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_dataset_id", "items", ["dataset_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_dataset_id", table_name="items")
