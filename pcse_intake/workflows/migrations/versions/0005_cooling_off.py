"""E-mail changes wait out a cooling-off period: what was scheduled, applied or stopped.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pcse_intake.workflows.models.base import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("change_old_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("change_applied_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("change_stopped_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("change_stopped_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("change_stop_reason", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_requests_change_due", ["change_status", "effective_at"], unique=False
        )
    # Before this revision an e-mail change was written to the registry at approval.
    op.execute(
        "UPDATE requests SET change_status = 'applied', change_applied_at = approved_at"
        " WHERE kind = 'email_change' AND state = 'completed'"
    )


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_change_due")
        batch_op.drop_column("change_stop_reason")
        batch_op.drop_column("change_stopped_by")
        batch_op.drop_column("change_stopped_at")
        batch_op.drop_column("change_applied_at")
        batch_op.drop_column("change_old_email")
        batch_op.drop_column("change_status")
