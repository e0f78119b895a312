"""Schema changes for the request workflow (owned by the workflows code).

The history table is append-only: triggers make the database itself refuse UPDATE and
DELETE on it, on SQLite and on PostgreSQL, whatever code or person connects.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    """CREATE TRIGGER history_no_update BEFORE UPDATE ON history
       BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
    """CREATE TRIGGER history_no_delete BEFORE DELETE ON history
       BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
]
_POSTGRES = [
    """CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'history is append-only'; END $$""",
    """CREATE TRIGGER history_no_update BEFORE UPDATE OR DELETE ON history
       FOR EACH ROW EXECUTE FUNCTION history_append_only()""",
    """CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
       FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE if dialect == "sqlite" else _POSTGRES if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS history_no_update")
        op.execute("DROP TRIGGER IF EXISTS history_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS history_no_truncate ON history")
        op.execute("DROP TRIGGER IF EXISTS history_no_update ON history")
        op.execute("DROP FUNCTION IF EXISTS history_append_only()")
