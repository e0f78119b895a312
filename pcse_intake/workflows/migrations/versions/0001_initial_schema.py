"""initial schema

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pcse_intake.workflows.models.base


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mailbox_state',
    sa.Column('mailbox', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.Integer(), nullable=True),
    sa.Column('last_poll_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('mailbox', name=op.f('pk_mailbox_state'))
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ods_code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_type', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=400), nullable=True),
    sa.Column('postcode', sa.String(length=10), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('created_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['organisations.id'], name=op.f('fk_organisations_parent_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('ods_code', name=op.f('uq_organisations_ods_code'))
    )
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('email', name=op.f('uq_people_email'))
    )
    op.create_table('requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('ods_code', sa.String(length=16), nullable=True),
    sa.Column('practice_name', sa.String(length=200), nullable=True),
    sa.Column('sender', sa.String(length=254), nullable=True),
    sa.Column('received_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('awaiting_verification_since', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('missing', sa.JSON(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('auth_verdict', sa.String(length=10), nullable=False),
    sa.Column('no_answer_count', sa.Integer(), nullable=False),
    sa.Column('verified_by', sa.String(length=100), nullable=True),
    sa.Column('verified_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('approved_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('effective_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejected_by', sa.String(length=100), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requests'))
    )
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.create_index('ix_requests_kind_state', ['kind', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_requests_ods_code'), ['ods_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_requests_sender'), ['sender'], unique=False)
        batch_op.create_index('ix_requests_state_received', ['state', 'received_at'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    op.create_table('corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=100), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('staff', sa.String(length=100), nullable=False),
    sa.Column('at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_corrections_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrections'))
    )
    with op.batch_alter_table('corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_corrections_request_id'), ['request_id'], unique=False)

    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('message_id_header', sa.String(length=998), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('mailbox', sa.String(length=200), nullable=True),
    sa.Column('uidvalidity', sa.Integer(), nullable=True),
    sa.Column('uid', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('received_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sender', sa.String(length=254), nullable=True),
    sa.Column('subject', sa.String(length=998), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('parse_result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('duplicate_count', sa.Integer(), nullable=False),
    sa.Column('message_id_collision', sa.Boolean(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('dismissed_by', sa.String(length=100), nullable=True),
    sa.Column('dismiss_note', sa.Text(), nullable=True),
    sa.Column('purged_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_inbound_messages_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('mailbox', 'uidvalidity', 'uid', name='uq_inbound_messages_location'),
    sa.UniqueConstraint('sha256', name=op.f('uq_inbound_messages_sha256'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_message_id_header'), ['message_id_header'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_sender'), ['sender'], unique=False)
        batch_op.create_index('ix_inbound_messages_status_received', ['status', 'received_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('template', sa.String(length=80), nullable=False),
    sa.Column('to_addr', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('message_id_header', sa.String(length=255), nullable=False),
    sa.Column('in_reply_to', sa.String(length=998), nullable=True),
    sa.Column('references', sa.Text(), nullable=True),
    sa.Column('auto_submitted', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_outbox_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('message_id_header', name=op.f('uq_outbox_message_id_header'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_outbox_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_to_addr'), ['to_addr'], unique=False)

    op.create_table('roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('created_at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_roles_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_roles_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roles')),
    sa.UniqueConstraint('person_id', 'organisation_id', 'role', name=op.f('uq_roles_person_id'))
    )
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roles_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('verification_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('staff', sa.String(length=100), nullable=False),
    sa.Column('at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('phone_on_record', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_verification_calls_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_calls'))
    )
    with op.batch_alter_table('verification_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_calls_request_id'), ['request_id'], unique=False)

    op.create_table('history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', pcse_intake.workflows.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('entity', sa.String(length=40), nullable=True),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=30), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['inbound_messages.id'], name=op.f('fk_history_message_id_inbound_messages')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_history_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history'))
    )
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_history_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_history_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_request_id'))
        batch_op.drop_index(batch_op.f('ix_history_at'))

    op.drop_table('history')
    with op.batch_alter_table('verification_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_calls_request_id'))

    op.drop_table('verification_calls')
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roles_organisation_id'))

    op.drop_table('roles')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_to_addr'))
        batch_op.drop_index('ix_outbox_status_next')
        batch_op.drop_index(batch_op.f('ix_outbox_request_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_messages_status_received')
        batch_op.drop_index(batch_op.f('ix_inbound_messages_sender'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_request_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_message_id_header'))

    op.drop_table('inbound_messages')
    with op.batch_alter_table('corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_corrections_request_id'))

    op.drop_table('corrections')
    op.drop_table('staff')
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_index('ix_requests_state_received')
        batch_op.drop_index(batch_op.f('ix_requests_sender'))
        batch_op.drop_index(batch_op.f('ix_requests_ods_code'))
        batch_op.drop_index('ix_requests_kind_state')

    op.drop_table('requests')
    op.drop_table('people')
    op.drop_table('organisations')
    op.drop_table('mailbox_state')
