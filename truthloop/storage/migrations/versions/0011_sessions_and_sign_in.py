"""sign-in sessions kept on the server (so that sign-out, a new password and deactivation end
them), an optional expiry for API tokens, and failed sign-ins counted where every portal process
sees them

Revision ID: 0011_sessions_and_sign_in
Revises: 0010_validation_grows
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_sessions_and_sign_in"
down_revision = "0010_validation_grows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sign_in_sessions_user_id_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("secret_hash", name="uq_sign_in_sessions_secret_hash"),
    )
    op.create_index("ix_sign_in_sessions_user_id", "sign_in_sessions", ["user_id"])
    op.create_index("ix_sign_in_sessions_expires_at", "sign_in_sessions", ["expires_at"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("name_hash", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name_hash", "address", name="pk_sign_in_attempts"),
    )
    op.create_index(
        "ix_sign_in_attempts_last_failed_at", "sign_in_attempts", ["last_failed_at"]
    )
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("expires_at")
    op.drop_index("ix_sign_in_attempts_last_failed_at", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    op.drop_index("ix_sign_in_sessions_expires_at", table_name="sign_in_sessions")
    op.drop_index("ix_sign_in_sessions_user_id", table_name="sign_in_sessions")
    op.drop_table("sign_in_sessions")
