"""ImapMailbox against real servers: IMAP IDLE notices mail, whenever it arrived."""

from __future__ import annotations

import threading
import time

import pytest

from pcse_intake.inbox_worker.imap_source import ImapMailbox
from tests.hardening.soak_support import append_all
from tests.inbox_worker.support import test_settings
from tests.servers import DovecotServer, EmbeddedImap, ImapAccount, pymap_account

NEW_MAIL = b"Subject: new\r\n\r\nhello\r\n"


def _deliver(account: ImapAccount) -> None:
    append_all(account, [NEW_MAIL])


@pytest.fixture(params=["dovecot", "pymap"])
def account(request: pytest.FixtureRequest) -> ImapAccount:
    if request.param == "dovecot":
        request.applymarker(pytest.mark.dovecot)
        server: DovecotServer = request.getfixturevalue("dovecot_server")
        return server.account
    request.applymarker(pytest.mark.imap)
    embedded: EmbeddedImap = request.getfixturevalue("pymap_server")
    return pymap_account(embedded)


def _opened(account: ImapAccount) -> ImapMailbox:
    mailbox = ImapMailbox(test_settings("sqlite://", account).mailbox, password=account.password)
    mailbox.open()
    return mailbox


def test_mail_that_arrived_between_the_poll_and_idle_is_noticed_at_once(
    account: ImapAccount,
) -> None:
    mailbox = _opened(account)
    try:
        assert mailbox.search() == []
        _deliver(account)  # after the poll's search, before IDLE: IDLE alone never hears of it
        started = time.monotonic()
        assert mailbox.wait_for_mail(10) is True
        assert time.monotonic() - started < 5  # not by waiting out the IDLE window
    finally:
        mailbox.close()


def test_mail_arriving_during_idle_wakes_it_and_nothing_new_lets_it_time_out(
    account: ImapAccount,
) -> None:
    mailbox = _opened(account)
    try:
        _deliver(account)
        assert len(mailbox.search()) == 1  # seen by this poll: not new any more
        assert mailbox.wait_for_mail(0.5) is False
        delivery = threading.Timer(0.5, _deliver, args=(account,))
        delivery.start()
        assert mailbox.wait_for_mail(10) is True
        delivery.join()
    finally:
        mailbox.close()
