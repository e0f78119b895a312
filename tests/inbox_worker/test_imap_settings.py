"""Mailbox settings that would be unsafe, or cannot work, are refused before connecting."""

from __future__ import annotations

import pytest

from pcse_intake.config import ConfigError, MailboxSettings
from pcse_intake.inbox_worker.imap_source import check_mailbox_settings, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "imap.nhs.net", "0.0.0.0"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_plain_imap_off_loopback_is_refused_unless_allowed_explicitly() -> None:
    with pytest.raises(ConfigError, match="only on loopback"):
        check_mailbox_settings(MailboxSettings(host="imap.nhs.net", security="none"))
    check_mailbox_settings(
        MailboxSettings(host="imap.nhs.net", security="none", allow_insecure=True)
    )


def test_xoauth2_needs_a_tenant_and_a_client_id() -> None:
    with pytest.raises(ConfigError, match="oauth_tenant_id"):
        check_mailbox_settings(MailboxSettings(auth="xoauth2"))
    check_mailbox_settings(
        MailboxSettings(auth="xoauth2", oauth_tenant_id="t", oauth_client_id="c")
    )


def test_an_unknown_security_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="security"):
        check_mailbox_settings(MailboxSettings(security="tls"))
