"""Build the real mailbox and SMTP connections from settings (secrets read from the environment)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pcse_intake.config import ConfigError, Settings
from pcse_intake.inbox_worker.imap_source import (
    ImapMailbox,
    check_mailbox_settings,
    secret_from_env,
)
from pcse_intake.inbox_worker.oauth import MsalTokenProvider, RefreshingToken
from pcse_intake.inbox_worker.smtp_sender import SmtpMailer, check_smtp_settings


def check_settings(settings: Settings) -> None:
    """Everything the worker needs, checked at start-up so a mistake is one clear line."""
    check_mailbox_settings(settings.mailbox)
    check_smtp_settings(settings.smtp)
    mailbox_secrets(settings)
    if settings.smtp.username:
        secret_from_env(settings.smtp.password_env, "[smtp] password")


def mailbox_secrets(settings: Settings) -> tuple[str | None, RefreshingToken | None]:
    box = settings.mailbox
    if box.auth == "xoauth2":
        secret = secret_from_env(box.oauth_client_secret_env, "[mailbox] OAuth client secret")
        provider = MsalTokenProvider(
            tenant_id=box.oauth_tenant_id,
            client_id=box.oauth_client_id,
            client_secret=secret,
            scope=box.oauth_scope,
        )
        return None, RefreshingToken(provider)
    return secret_from_env(box.password_env, "[mailbox] password"), None


def mailbox_factory(
    settings: Settings, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[], ImapMailbox]:
    """A factory of fresh connections; the token (if any) is shared so it is reused until due."""
    password, token = mailbox_secrets(settings)
    return lambda: ImapMailbox(settings.mailbox, password=password, token=token, now=now)


def mailer_factory(settings: Settings) -> Callable[[], SmtpMailer]:
    password = None
    if settings.smtp.username:
        password = secret_from_env(settings.smtp.password_env, "[smtp] password")
    check_smtp_settings(settings.smtp)
    return lambda: SmtpMailer(settings.smtp, password=password)


__all__ = ["ConfigError", "check_settings", "mailbox_factory", "mailer_factory"]
