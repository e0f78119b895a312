"""Staff identity: two-admin account changes (and their lineage), one-time passwords, and a
key made for each first sign-in.

Revision ID: 0008_trust_staff
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pcse_intake.workflows.models.base import UTCDateTime

revision: str = "0008_trust_staff"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activated_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("pending_password_half", sa.String(length=32), nullable=True))
    with op.batch_alter_table("second_factor_challenges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("set_up", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("enrolment_secret", sa.String(length=64), nullable=True))
    op.create_table(
        "staff_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_changes_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["staff.id"], name=op.f("fk_staff_changes_requested_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["staff.id"], name=op.f("fk_staff_changes_confirmed_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"], ["staff.id"], name=op.f("fk_staff_changes_withdrawn_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_changes")),
    )
    with op.batch_alter_table("staff_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_changes_staff_id"), ["staff_id"], unique=False)

    # Accounts made before this revision were usable at once.
    op.execute("UPDATE staff SET activated_at = created_at")
    # Someone else chose the password of an account that has never signed in: its first
    # sign-in now replaces it.
    op.execute("UPDATE staff SET must_change_password = true WHERE last_login_at IS NULL")
    # A key shown during an unfinished enrolment may have been read by someone else: forget
    # it, so the owner's next sign-in makes a new one.
    op.execute(
        "UPDATE staff SET totp_secret = NULL, totp_last_step = NULL"
        " WHERE totp_confirmed_at IS NULL"
    )
    # The lineage so far, from the history: who made each account, changed its role or reset
    # its second factor (an actor that is no account, such as "system", is the shell).
    for action, kind in (
        ("staff_created", "created"),
        ("staff_role_changed", "role"),
        ("staff_second_factor_reset", "second_factor_reset"),
    ):
        op.execute(
            "INSERT INTO staff_changes (staff_id, kind, requested_by_id, requested_at,"
            " confirmed_at)"
            f" SELECT h.entity_id, '{kind}', a.id, h.at, h.at FROM history h"
            " JOIN staff s ON s.id = h.entity_id"
            " LEFT JOIN staff a ON a.username = h.actor"
            f" WHERE h.entity = 'staff' AND h.action = '{action}'"
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_changes_staff_id"))
    op.drop_table("staff_changes")
    with op.batch_alter_table("second_factor_challenges", schema=None) as batch_op:
        batch_op.drop_column("enrolment_secret")
        batch_op.drop_column("set_up")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("pending_password_half")
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("activated_at")
