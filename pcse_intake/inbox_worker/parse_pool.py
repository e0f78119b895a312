"""Parsing a fetched batch in a second process while this one records it.

`parse` is a pure function of the bytes and the options, so a batch can be parsed ahead in
another process while the poller's own process does the database work; on a machine with
two cores the parse then costs the recording almost nothing. Anything that goes wrong on the
way (the helper process died, a result did not arrive) only means the message is parsed
again where it is recorded: the pool is a shortcut, never the only way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from pcse_intake.parsers import ParsedEmail, ParseOptions, parse

log = logging.getLogger(__name__)

# Smaller batches (an IDLE wake-up with one new message) are parsed where they are recorded:
# handing one message to another process and back would only add latency.
MIN_BATCH = 8
# Messages per hand-over: one round trip per message costs the recording process more (its
# threads unpickle every result) than it saves; a whole batch at once would leave the first
# messages waiting for the last ones.
CHUNK = 10


class ParsePool:
    """One or more helper processes, started on first use and kept for the next batch."""

    def __init__(self, options: ParseOptions, *, processes: int = 1) -> None:
        self.options = options
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    def submit(self, raws: Sequence[bytes]) -> list[Parsing | None]:
        """Start parsing each message; None for each one to be parsed by the caller."""
        if self.processes < 1 or len(raws) < MIN_BATCH:
            return [None] * len(raws)
        try:
            executor = self._ensure()
            starts = range(0, len(raws), CHUNK)
            futures: dict[int, Future[list[ParsedEmail]]] = {}
            # Last chunk first: the recording process parses what the helper has not done
            # from the front, so when the helper falls behind the two meet in the middle
            # instead of both parsing the same first messages.
            for start in reversed(starts):
                futures[start] = executor.submit(
                    parse_many, list(raws[start : start + CHUNK]), self.options
                )
            return [Parsing(futures[n - n % CHUNK], n % CHUNK) for n in range(len(raws))]
        except Exception:  # e.g. the helper died: parse here, start afresh next batch
            log.warning("could not hand a batch to the parse process", exc_info=True)
            self.close()
            return [None] * len(raws)

    def close(self) -> None:
        """Stop the helper processes (waits for them); the next batch starts new ones."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a fresh interpreter, nothing inherited (threads, locks, open connections).
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor


def _die_with_parent(parent: int) -> None:
    """Run in the helper: exit when the poller's process is gone (e.g. killed with SIGKILL),
    which would otherwise leave the helper waiting for work for ever (the crash soak).
    `parent` is passed in: the poller may have died before this helper finished starting."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass(frozen=True)
class Parsing:
    """One message's place in a chunk being parsed by the helper."""

    future: Future[list[ParsedEmail]]
    index: int


def parse_many(raws: list[bytes], options: ParseOptions) -> list[ParsedEmail]:
    """Run in the helper process: `parse` each message, in order."""
    return [parse(raw, options) for raw in raws]


def result_or_none(parsing: Parsing | None) -> ParsedEmail | None:
    """The parse from the helper, or None to parse again here (it failed or never started)."""
    if parsing is None:
        return None
    try:
        return parsing.future.result()[parsing.index]
    except Exception:
        log.warning("the parse process failed a message; parsing it here", exc_info=True)
        return None


def ready_or_cancel(parsing: Parsing | None) -> ParsedEmail | None:
    """The helper's parse if it is done already; otherwise None, for the caller to parse.

    A chunk the helper has not started yet is cancelled as well: the caller is parsing from
    the front of the batch and will reach its other messages first, so the helper's work on
    it would be thrown away (the helper takes chunks last first and stops where they meet).
    """
    if parsing is None or parsing.future.cancelled():
        return None
    if not parsing.future.done():
        parsing.future.cancel()  # refused once the helper has started the chunk: it is kept
        return None
    return result_or_none(parsing)
