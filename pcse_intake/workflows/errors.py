"""The refusals the workflow gives, each with a plain-English message for staff."""

from __future__ import annotations


class WorkflowRefusal(Exception):
    """The workflow said no (the command line exits 1); `str()` is one line for a person."""


class RequestNotFound(WorkflowRefusal):
    """No request has that reference."""


class MessageNotFound(WorkflowRefusal):
    """No stored message has that id."""


class IllegalTransition(WorkflowRefusal):
    """The request is in a state where that cannot happen."""


class FourEyesViolation(WorkflowRefusal):
    """The approver verified (or corrected) the request themselves."""


class NotPermitted(WorkflowRefusal):
    """The staff account is unknown, disabled, or its role may not do this."""


class VerificationRefused(WorkflowRefusal):
    """The call cannot be recorded as given (no number on record, a number without a note)."""


class CannotApply(WorkflowRefusal):
    """Approval cannot change the records as asked (e.g. the organisation is not held)."""


class InvalidValue(WorkflowRefusal):
    """A value given by staff is malformed (a usage error: the command line exits 2)."""


class StaffExists(WorkflowRefusal):
    """A staff account with that name already exists."""


class RegistryImportError(InvalidValue):
    """A registry file could not be imported (bad input: exit 2); nothing was changed."""
