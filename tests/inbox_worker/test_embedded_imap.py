"""pymap and Dovecot start on free loopback ports, take APPENDed mail, and stop cleanly."""

from __future__ import annotations

import pytest
from imapclient import IMAPClient

from tests.servers import DovecotServer, EmbeddedImap, seed_mailbox


@pytest.mark.imap
def test_pymap_serves_the_mail_seeded_into_it(pymap_server: EmbeddedImap) -> None:
    seeded = seed_mailbox(
        host=pymap_server.host,
        port=pymap_server.port,
        username=pymap_server.username,
        password=pymap_server.password,
        messages=[b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n2\r\n"],
    )
    with IMAPClient(pymap_server.host, pymap_server.port, ssl=False, timeout=10) as client:
        client.login(pymap_server.username, pymap_server.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == seeded == 2


def test_pymap_stops_when_asked() -> None:
    server = EmbeddedImap().start()
    pid = server.pid
    server.stop()
    assert pid is not None and server.pid is None


@pytest.mark.dovecot
def test_dovecot_serves_mail_and_removes_its_folder_when_stopped() -> None:
    with DovecotServer() as server:
        root = server.home
        seed_mailbox(
            host=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            messages=[b"Subject: one\r\n\r\n1\r\n"],
        )
        with IMAPClient(server.host, server.port, ssl=False, timeout=10) as client:
            client.login(server.username, server.password)
            assert client.select_folder("INBOX")[b"EXISTS"] == 1
            assert b"MOVE" in client.capabilities()
    assert not root.exists()
