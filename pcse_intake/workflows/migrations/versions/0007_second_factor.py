"""The console's second sign-in factor: TOTP columns on staff and half-finished sign-ins.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pcse_intake.workflows.models.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_confirmed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.create_table(
        "second_factor_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_second_factor_challenges_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factor_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_second_factor_challenges_token_hash")),
    )
    with op.batch_alter_table("second_factor_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_second_factor_challenges_staff_id"), ["staff_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("second_factor_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_second_factor_challenges_staff_id"))
    op.drop_table("second_factor_challenges")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret")
