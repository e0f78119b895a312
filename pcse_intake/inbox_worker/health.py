"""The daemon's health: `/healthz` and Prometheus `/metrics` on loopback; the stale-poll alarm."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.inbox_worker.logs import event
from pcse_intake.workflows.models import Request, RequestState
from pcse_intake.workflows.outbox_queue import backlog

log = logging.getLogger(__name__)


class Metrics:
    """What the daemon exposes; updated by the jobs, read by the HTTP endpoints."""

    def __init__(self, *, stale_poll_seconds: int) -> None:
        self.registry = CollectorRegistry()
        self.stale_poll_seconds = stale_poll_seconds
        self.messages_seen = Counter(
            "pcse_messages_seen", "Messages recorded from the mailbox", registry=self.registry
        )
        self.requests = Gauge(
            "pcse_requests", "Requests by state", ["state"], registry=self.registry
        )
        self.outbox_backlog = Gauge(
            "pcse_outbox_backlog", "Outbox rows waiting to be sent", registry=self.registry
        )
        self.last_poll = Gauge(
            "pcse_last_successful_poll_timestamp_seconds",
            "When the mailbox was last polled successfully (Unix time)",
            registry=self.registry,
        )
        self.poll_failures = Counter(
            "pcse_poll_failures",
            "Polls that failed (connection, login, database)",
            registry=self.registry,
        )
        self.started_at: datetime | None = None
        self.last_success: datetime | None = None
        self._stale_logged = False
        self._lock = threading.Lock()

    def poll_succeeded(self, at: datetime, recorded: int) -> None:
        with self._lock:
            self.last_success = at
            self._stale_logged = False
        self.last_poll.set(at.timestamp())
        self.messages_seen.inc(recorded)

    def refresh(self, session: Session) -> None:
        """Re-read the gauges that live in the database."""
        counts = dict(
            session.execute(select(Request.state, func.count()).group_by(Request.state)).all()
        )
        for state in RequestState:
            self.requests.labels(state=state.value).set(counts.get(state.value, 0))
        self.outbox_backlog.set(backlog(session))

    def is_stale(self, now: datetime) -> bool:
        since = self.last_success or self.started_at
        return since is not None and (now - since).total_seconds() > self.stale_poll_seconds

    def check_stale(self, now: datetime) -> bool:
        """Log loudly (once per stale spell) when no poll has succeeded for too long."""
        stale = self.is_stale(now)
        with self._lock:
            first = stale and not self._stale_logged
            self._stale_logged = self._stale_logged or stale
        if first:
            event(
                log,
                "poll_stale",
                level=logging.CRITICAL,
                last_success=self.last_success.isoformat() if self.last_success else None,
                stale_after_seconds=self.stale_poll_seconds,
            )
        return stale


class HealthServer:
    """A tiny threaded HTTP server: GET /healthz (200 or 503) and GET /metrics."""

    def __init__(self, metrics: Metrics, *, bind: str, port: int, now: Any) -> None:
        self.metrics = metrics
        handler = _handler_for(metrics, now)
        self._server = ThreadingHTTPServer((bind, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler_for(metrics: Metrics, now: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                stale = metrics.is_stale(now())
                body = json.dumps(
                    {
                        "status": "stale" if stale else "ok",
                        "last_successful_poll": metrics.last_success.isoformat()
                        if metrics.last_success
                        else None,
                    }
                ).encode()
                self._reply(503 if stale else 200, "application/json", body)
            elif self.path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            else:
                self._reply(404, "text/plain", b"not found\n")

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood the event log

    return Handler
