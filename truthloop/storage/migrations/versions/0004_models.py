"""model projects and their versions

Revision ID: 0004_models
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_models"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_projects"),
        sa.UniqueConstraint("name", name="uq_model_projects_name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("params", Json, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("training_dataset", sa.String(128), nullable=False),
        sa.Column("test_dataset", sa.String(128), nullable=True),
        sa.Column("labels", Json, nullable=False),
        sa.Column("metrics", Json, nullable=True),
        sa.Column("training_report", Json, nullable=True),
        sa.Column("artifact_uri", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("trainer", sa.String(256), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("training_ended_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("name", name="uq_model_versions_name"),
        sa.UniqueConstraint("project_id", "number", name="uq_model_versions_project_number"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["model_projects.id"],
            name="fk_model_versions_project_id_model_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["model_versions.id"],
            name="fk_model_versions_parent_id_model_versions",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_model_versions_status", "model_versions", ["status"])


def downgrade() -> None:
    op.drop_table("model_versions")
    op.drop_table("model_projects")
