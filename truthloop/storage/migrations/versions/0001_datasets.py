"""datasets, items, label sets and annotations

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "label_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_label_sets"),
        sa.UniqueConstraint("name", name="uq_label_sets_name"),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_set_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
        sa.ForeignKeyConstraint(
            ["label_set_id"],
            ["label_sets.id"],
            name="fk_labels_label_set_id_label_sets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("label_set_id", "name", name="uq_labels_set_name"),
        sa.UniqueConstraint("label_set_id", "class_id", name="uq_labels_set_class_id"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("label_set_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.ForeignKeyConstraint(
            ["label_set_id"], ["label_sets.id"], name="fk_datasets_label_set_id_label_sets"
        ),
        sa.UniqueConstraint("name", name="uq_datasets_name"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("extra", Json, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name="fk_items_dataset_id_datasets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("dataset_id", "uri", name="uq_items_dataset_uri"),
    )
    op.create_index("ix_items_dataset_hash", "items", ["dataset_id", "content_hash"], unique=True)
    op.create_index("ix_items_dataset_split", "items", ["dataset_id", "split"])
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("attribute", sa.String(256), nullable=True),
        sa.Column("value", Json, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("worker", sa.String(256), nullable=True),
        sa.Column("job_name", sa.String(256), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("extra", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_annotations"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_annotations_item_id_items", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_annotations_item", "annotations", ["item_id"])


def downgrade() -> None:
    op.drop_table("annotations")
    op.drop_table("items")
    op.drop_table("datasets")
    op.drop_table("labels")
    op.drop_table("label_sets")
