"""the job's open items in item order, so a submit finds whether any is left in one step

Revision ID: 0005
Revises: 0004_models
Create Date: 2026-11-21
"""

from alembic import op

revision = "0005"
down_revision = "0004_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_job_items_job_status_item", "job_items", ["job_id", "status", "item_id"]
    )
    op.drop_index("ix_job_items_job_status", table_name="job_items")


def downgrade() -> None:
    op.create_index("ix_job_items_job_status", "job_items", ["job_id", "status"])
    op.drop_index("ix_job_items_job_status_item", table_name="job_items")
