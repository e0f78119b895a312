"""An aiosmtpd SMTP sink on loopback that keeps every message it accepts (demo and tests)."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the sink accepted it: envelope and the exact bytes of DATA."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _KeepingHandler:
    """aiosmtpd handler: refuses with `reply` when one is set, otherwise keeps the message."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.received: list[ReceivedMail] = []
        self.reply: str | None = None  # e.g. "451 4.3.0 try later", to rehearse failures
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply is not None:
            return self.reply
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(str(r) for r in envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
        )
        with self.lock:
            self.received.append(mail)
            number = len(self.received)
        if self.folder is not None:
            path = self.folder / f"{number:05d}.eml"
            path.write_bytes(mail.data)
            recipients = ",".join(mail.rcpt_tos)
            log.info("smtp sink kept message %d for %s in %s", number, recipients, path)
        return "250 OK"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 (a free port unless one is given); `with` starts it."""

    def __init__(
        self,
        *,
        port: int = 0,
        folder: Path | None = None,
        host: str = "127.0.0.1",
        tls_context: ssl.SSLContext | None = None,  # offer STARTTLS with this (TLS tests)
    ):
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self.handler = _KeepingHandler(folder)
        self._controller: Controller | None = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def received(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.received)

    def refuse_with(self, reply: str | None) -> None:
        """Answer DATA with `reply` (a 4xx or 5xx line) until called again with None."""
        self.handler.reply = reply

    def start(self) -> SmtpSink:
        # aiosmtpd needs a concrete port up front; a just-freed one may be taken meanwhile.
        for _attempt in range(5):
            port = self.port or free_port(self.host)
            controller = Controller(
                self.handler,
                hostname=self.host,
                port=port,
                decode_data=False,
                enable_SMTPUTF8=True,
                ready_timeout=10,
                tls_context=self.tls_context,
            )
            try:
                controller.start()
            except (OSError, RuntimeError):
                if self.port:
                    raise
                continue
            self.port = port
            self._controller = controller
            return self
        raise OSError("could not bind a free port for the SMTP sink")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it: safe beside parallel test runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
