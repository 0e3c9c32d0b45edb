"""cheaper index upkeep when millions of items are imported

Image URIs compare byte by byte on PostgreSQL (collation "C": the same equality, no locale
rules to apply on every index comparison), and the content-hash index holds only the items
that have a hash (those whose image was read), not a NULL entry for every other item.

Revision ID: 0009_lighter_item_indexes
Revises: 0008_items_in_order
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_lighter_item_indexes"
down_revision = "0008_items_in_order"
branch_labels = None
depends_on = None

HASHED = sa.text("content_hash IS NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("items", "uri", type_=sa.Text(collation="C"), existing_nullable=False)
    op.drop_index("ix_items_dataset_hash", table_name="items")
    op.create_index(
        "ix_items_dataset_hash",
        "items",
        ["dataset_id", "content_hash"],
        unique=True,
        postgresql_where=HASHED,
        sqlite_where=HASHED,
    )


def downgrade() -> None:
    op.drop_index("ix_items_dataset_hash", table_name="items")
    op.create_index("ix_items_dataset_hash", "items", ["dataset_id", "content_hash"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("items", "uri", type_=sa.Text(), existing_nullable=False)
