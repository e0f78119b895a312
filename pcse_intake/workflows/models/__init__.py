"""The SQLAlchemy models, one concern per module, re-exported here."""

from pcse_intake.workflows.models.base import MAX_ROW_ID, Base, utcnow
from pcse_intake.workflows.models.console_session import ConsoleSession, SignInAttempt
from pcse_intake.workflows.models.history import HistoryEntry
from pcse_intake.workflows.models.legal_hold import LegalHold
from pcse_intake.workflows.models.message import InboundMessage, MailboxState, MessageStatus
from pcse_intake.workflows.models.outbox import OutboxMessage, OutboxStatus
from pcse_intake.workflows.models.registry import Organisation, Person, Role
from pcse_intake.workflows.models.request import (
    Correction,
    Request,
    RequestState,
    VerificationCall,
    format_ref,
)
from pcse_intake.workflows.models.staff import Staff, StaffChange, StaffChangeKind, StaffRole

__all__ = [
    "MAX_ROW_ID",
    "Base",
    "ConsoleSession",
    "Correction",
    "HistoryEntry",
    "InboundMessage",
    "LegalHold",
    "MailboxState",
    "MessageStatus",
    "Organisation",
    "OutboxMessage",
    "OutboxStatus",
    "Person",
    "Request",
    "RequestState",
    "Role",
    "SignInAttempt",
    "Staff",
    "StaffChange",
    "StaffChangeKind",
    "StaffRole",
    "VerificationCall",
    "format_ref",
    "utcnow",
]
