"""`pcse-intake run`: the APScheduler daemon: poll, outbox, e-mail changes, reminders, health."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.health import HealthServer, Metrics
from pcse_intake.inbox_worker.imap_source import CONNECTION_ERRORS, MailboxSource
from pcse_intake.inbox_worker.logs import event
from pcse_intake.inbox_worker.oauth import TokenError
from pcse_intake.inbox_worker.outbox_job import MailerFactory, send_outbox
from pcse_intake.inbox_worker.poller import Poller, PollReport
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.maintenance import purge_raw_messages, queue_reminder_digest
from pcse_intake.workflows.pending_changes import apply_due_changes

log = logging.getLogger(__name__)

TIMEZONE = "Europe/London"  # staff work to UK time; the cron jobs' HH:MM are read in it
# What makes a poll give up until its next turn (the mailbox or the database is unwell).
POLL_ERRORS: tuple[type[Exception], ...] = (OSError, IMAPClientError, DBAPIError, TokenError)


@dataclass
class Daemon:
    """The jobs and what they share; `run()` blocks until stopped (SIGTERM, SIGINT, `stop()`)."""

    settings: Settings
    sessions: sessionmaker[Session]
    open_mailbox: Callable[[], MailboxSource]
    connect_mailer: MailerFactory
    now: Callable[[], datetime]
    health_port: int | None = None  # None: settings.health.port; 0: any free port
    stopping: threading.Event = field(default_factory=threading.Event)
    metrics: Metrics = field(init=False)
    _poller: Poller | None = field(default=None, init=False)
    _running: int = field(default=0, init=False)
    _idle: threading.Condition = field(default_factory=threading.Condition, init=False)
    _scheduler: BlockingScheduler | None = field(default=None, init=False)
    health: HealthServer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(stale_poll_seconds=self.settings.health.stale_poll_seconds)

    # -- the jobs --------------------------------------------------------------------------

    def poll_job(self) -> None:
        try:
            started = time.monotonic()
            poller = self._connected_poller()
            self._after_poll(poller.poll())
            if self.settings.mailbox.idle:
                # IDLE until shortly before the next scheduled poll, polling as mail arrives;
                # ending early keeps this job from overlapping its own next run.
                window = self.settings.schedule.poll_seconds * 0.8 - (time.monotonic() - started)
                poller.watch(seconds=window, stop=self.stopping, on_poll=self._after_poll)
        except POLL_ERRORS as exc:
            error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            self.metrics.poll_failures.inc()
            event(log, "poll_failed", level=logging.ERROR, error=error)
            self._drop_poller(error)
        self._refresh_metrics()

    def outbox_job(self) -> None:
        send_outbox(self.sessions, self.connect_mailer, settings=self.settings, now=self.now)
        self._refresh_metrics()

    def changes_job(self) -> None:
        """E-mail changes whose cooling-off period is over take effect (or are stopped)."""
        with transaction(self.sessions) as session:
            report = apply_due_changes(session, now=self.now(), settings=self.settings)
        if report.applied or report.stopped:
            event(log, "email_changes_due", applied=report.applied, stopped=report.stopped)

    def reminders_job(self) -> None:
        with transaction(self.sessions) as session:
            queued = queue_reminder_digest(session, settings=self.settings, now=self.now())
        event(log, "reminder_digest", queued_outbox_id=queued)

    def retention_job(self) -> None:
        days = self.settings.retention.raw_message_days
        with transaction(self.sessions) as session:
            purged = purge_raw_messages(session, now=self.now(), older_than_days=days)
        event(log, "retention_purge", purged=purged, older_than_days=days)

    def health_job(self) -> None:
        self.metrics.check_stale(self.now())

    # -- running ---------------------------------------------------------------------------

    def run(self, *, stop_after: float | None = None, handle_signals: bool = True) -> int:
        """Run until stopped; the job in hand finishes first. Returns the exit code (0)."""
        scheduler = self._scheduler = self._build_scheduler()
        self.metrics.started_at = self.now()
        if self.settings.health.enabled:
            port = self.settings.health.port if self.health_port is None else self.health_port
            self.health = HealthServer(
                self.metrics, bind=self.settings.health.bind, port=port, now=self.now
            ).start()
            event(log, "health_listening", bind=self.settings.health.bind, port=self.health.port)
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        timer = None
        if stop_after is not None:
            timer = threading.Timer(stop_after, self.stop)
            timer.daemon = True
            timer.start()
        event(log, "daemon_started", jobs=[job.id for job in scheduler.get_jobs()])
        if not self.stopping.is_set():
            with contextlib.suppress(KeyboardInterrupt, SystemExit):
                scheduler.start()
        self._wait_for_jobs()
        if timer is not None:
            timer.cancel()
        if self.health is not None:
            self.health.stop()
        self._drop_poller(None)
        event(log, "daemon_stopped")
        return 0

    def stop(self) -> None:
        """Ask the daemon to stop: no new jobs start; the running ones finish."""
        self.stopping.set()
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            with contextlib.suppress(Exception):  # already shutting down
                scheduler.shutdown(wait=False)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        event(log, "stop_requested", signal=signal.Signals(signum).name)
        # shutdown() takes the scheduler's locks: never from inside a signal handler.
        threading.Thread(target=self.stop, name="stopper").start()

    def _build_scheduler(self) -> BlockingScheduler:
        s = self.settings.schedule
        scheduler = BlockingScheduler(timezone=TIMEZONE)
        first = datetime.now(scheduler.timezone)
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "replace_existing": True}
        # Jobs are recreated at every start (memory job store), each with a fixed id.
        scheduler.add_job(
            self._guarded(self.poll_job),
            "interval",
            seconds=s.poll_seconds,
            id="poll",
            next_run_time=first,
            **common,
        )
        scheduler.add_job(
            self._guarded(self.outbox_job),
            "interval",
            seconds=s.outbox_seconds,
            id="outbox",
            next_run_time=first,
            **common,
        )
        scheduler.add_job(
            self._guarded(self.changes_job),
            "interval",
            seconds=s.poll_seconds,  # a change takes effect at most one poll late
            id="changes",
            next_run_time=first,
            **common,
        )
        scheduler.add_job(
            self._guarded(self.reminders_job), _daily(s.reminders_time), id="reminders", **common
        )
        scheduler.add_job(
            self._guarded(self.retention_job), _daily(s.retention_time), id="retention", **common
        )
        check_every = max(1, min(30, self.settings.health.stale_poll_seconds // 4))
        scheduler.add_job(
            self._guarded(self.health_job), "interval", seconds=check_every, id="health", **common
        )
        scheduler.add_listener(_log_job_error, EVENT_JOB_ERROR)
        return scheduler

    def _guarded(self, job: Callable[[], None]) -> Callable[[], None]:
        """Count running jobs, so stopping can wait for the one in hand; skip once stopping."""

        def run_job() -> None:
            if self.stopping.is_set():
                return
            with self._idle:
                self._running += 1
            try:
                job()
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        run_job.__name__ = run_job.__qualname__ = job.__name__
        return run_job

    def _wait_for_jobs(self, timeout: float = 300) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0, timeout=timeout)

    # -- helpers ---------------------------------------------------------------------------

    def _connected_poller(self) -> Poller:
        if self._poller is not None:
            return self._poller
        poller = Poller(self.open_mailbox(), self.sessions, settings=self.settings, now=self.now)
        # Reconnect with backoff when the server drops or refuses; then give up until next turn.
        for attempt in Retrying(
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=1, max=20),
            retry=retry_if_exception_type(CONNECTION_ERRORS),
            reraise=True,
        ):
            with attempt:
                if self.stopping.is_set():
                    raise TokenError("stopping")
                try:
                    poller.connect()
                except CONNECTION_ERRORS:
                    poller.source.close()
                    raise
        self._poller = poller
        return poller

    def _drop_poller(self, error: str | None) -> None:
        poller, self._poller = self._poller, None
        if poller is None:
            return
        if error is not None:
            poller.note_failure(error)
        with contextlib.suppress(Exception):
            poller.close()

    def _after_poll(self, report: PollReport) -> None:
        self.metrics.poll_succeeded(self.now(), report.recorded)

    def _refresh_metrics(self) -> None:
        try:
            with self.sessions() as session:
                self.metrics.refresh(session)
        except DBAPIError:
            log.warning("could not refresh metrics from the database")


def _daily(hh_mm: str) -> CronTrigger:
    hour, _, minute = hh_mm.partition(":")
    return CronTrigger(hour=int(hour), minute=int(minute or 0), timezone=TIMEZONE)


def _log_job_error(job_event: JobExecutionEvent) -> None:
    error = job_event.exception
    event(
        log,
        "job_failed",
        level=logging.ERROR,
        job=job_event.job_id,
        error=" ".join(f"{type(error).__name__}: {error}".split())[:300],
    )
