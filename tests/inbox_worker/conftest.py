"""The real-server fixtures (tests/servers.py) made available to the inbox worker's tests."""

from tests.servers import dovecot_server, pymap_server, smtp_sink

__all__ = ["dovecot_server", "pymap_server", "smtp_sink"]
