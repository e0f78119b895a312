"""Composing an outbox row into a safe e-mail (pure), and handing it to an SMTP relay."""

from __future__ import annotations

import smtplib
import ssl
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from types import TracebackType
from typing import Protocol

from pcse_intake.config import ConfigError, SmtpSettings
from pcse_intake.inbox_worker.imap_source import is_loopback
from pcse_intake.parsers.headers import LOOP_HEADER
from pcse_intake.workflows.outbox_queue import ClaimedEmail


class TemporaryFailure(Exception):
    """Try again later: 4xx, connection refused or dropped, a timeout."""


class ConnectionLost(TemporaryFailure):
    """The connection to the relay broke mid-round; the rest of the round waits for later."""


class PermanentFailure(Exception):
    """Never retry: a 5xx answer, or a message that must not be sent as it stands."""


class UnsafeHeader(PermanentFailure):
    """A header value holds CR, LF or another control character: sending it could inject
    headers or be read differently by another parser (fail closed)."""


def _unsafe_character(value: str) -> str | None:
    """Why `value` must not be a header: a line break, or a control character (C0, DEL, C1,
    NUL) or a Unicode line/paragraph separator, which some software treats as a line end."""
    if "\r" in value or "\n" in value:
        return "a line break"
    for char in value:
        if char != "\t" and unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return f"the control character U+{ord(char):04X}"
    return None


def build_message(
    email: ClaimedEmail, *, from_address: str, from_name: str, now: datetime
) -> EmailMessage:
    """The exact e-mail for an outbox row; raises UnsafeHeader rather than send a bad header."""
    for part, given in (("display name", from_name), ("from address", from_address)):
        unsafe = _unsafe_character(given)
        if unsafe is not None:  # checked before formataddr could hide it in an encoded word
            raise UnsafeHeader(f"our {part} holds {unsafe}; outbox row {email.id} refused")
    headers = {
        "From": formataddr((from_name, from_address)) if from_name else from_address,
        "To": email.to_addr,
        "Subject": email.subject,
        "Date": format_datetime(now),
        "Message-ID": email.message_id_header,
        "In-Reply-To": email.in_reply_to,
        "References": email.references,
        "Auto-Submitted": email.auto_submitted,
        # Ask Exchange not to answer us with out-of-office or other automatic replies.
        "X-Auto-Response-Suppress": "All",
        # Marks our own mail, so it is never answered if a forwarder sends it back to us.
        LOOP_HEADER: from_address,
    }
    message = EmailMessage(policy=policy.SMTP)
    for name, value in headers.items():
        if value is None:
            continue
        unsafe = _unsafe_character(value)
        if unsafe is not None:
            raise UnsafeHeader(f"{name} header holds {unsafe}; outbox row {email.id} refused")
        try:
            message[name] = value
        except ValueError as exc:  # the email package refused it: never let it stop a round
            raise UnsafeHeader(f"{name} header refused ({exc}); outbox row {email.id}") from exc
    message.set_content(email.body_text)
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    return message


class Mailer(Protocol):
    """An open connection to a relay; `send` raises TemporaryFailure or PermanentFailure."""

    def send(
        self, message: EmailMessage, *, envelope_from: str, recipients: Sequence[str]
    ) -> None: ...


def check_smtp_settings(settings: SmtpSettings) -> None:
    if settings.security not in ("ssl", "starttls", "none"):
        raise ConfigError(f"[smtp] unknown security {settings.security!r}")
    if settings.security == "none" and not (is_loopback(settings.host) or settings.allow_insecure):
        raise ConfigError(
            f"[smtp] security = 'none' to {settings.host} is allowed only on loopback "
            "or with allow_insecure = true"
        )


class SmtpMailer:
    """`Mailer` over smtplib: STARTTLS or SSL with certificate checks, AUTH when configured.

    Use as a context manager: entering connects (a failure is a TemporaryFailure for every
    message of this round), leaving says QUIT.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        check_smtp_settings(settings)
        if settings.username and not password:
            raise ConfigError("[smtp] username is set but no password was given")
        self.settings = settings
        self._password = password
        self._context = ssl_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        s = self.settings
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_seconds, context=self._context
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
                if s.security == "starttls":
                    smtp.starttls(context=self._context)
            if s.username:
                smtp.login(s.username, self._password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"cannot reach SMTP relay {s.host}:{s.port}: {exc}") from exc
        self._smtp = smtp
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def send(self, message: EmailMessage, *, envelope_from: str, recipients: Sequence[str]) -> None:
        if self._smtp is None:
            raise ConnectionLost("not connected")
        try:
            refused = self._smtp.send_message(
                message, from_addr=envelope_from, to_addrs=list(recipients)
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            raise _by_code(min(codes), f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._smtp = None  # the connection is unusable now
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
        if refused:  # only some recipients refused: we send to one, so this is defensive
            raise TemporaryFailure(f"recipients refused: {refused}")


def _by_code(code: int, text: str) -> Exception:
    return PermanentFailure(text) if code >= 500 else TemporaryFailure(text)
