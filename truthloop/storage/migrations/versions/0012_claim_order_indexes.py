"""a claim reads the first waiting slots of its job and stops, however large the job

The waiting slots get a partial index in claim order (job, id) and the leased ones, few at any
time, one by expiry (job, lease_expires_at, worker): the leases that ran out are the first
entries of their job, and a worker's live leases are counted from the index alone. They replace
the indexes on (job, status, id) and (job, worker), which held every slot of a job, answered
ones included: counting a worker's leases read every slot they had ever answered, and each
submit wrote an entry into both.

Revision ID: 0012_claim_order_indexes
Revises: 0011_sessions_and_sign_in
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_claim_order_indexes"
down_revision = "0011_sessions_and_sign_in"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'waiting'")
LEASED = sa.text("status = 'leased'")


def upgrade() -> None:
    op.create_index(
        "ix_tasks_waiting",
        "tasks",
        ["job_id", "id"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index(
        "ix_tasks_leased",
        "tasks",
        ["job_id", "lease_expires_at", "worker_id"],
        postgresql_where=LEASED,
        sqlite_where=LEASED,
    )
    op.drop_index("ix_tasks_job_status", table_name="tasks")
    op.drop_index("ix_tasks_job_worker", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_job_worker", "tasks", ["job_id", "worker_id"])
    op.create_index("ix_tasks_job_status", "tasks", ["job_id", "status", "id"])
    op.drop_index("ix_tasks_leased", table_name="tasks")
    op.drop_index("ix_tasks_waiting", table_name="tasks")
