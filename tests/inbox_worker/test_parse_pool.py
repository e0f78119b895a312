"""The parse helper process: the same parses as in line, and a fallback when it cannot help."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.inbox_worker.parse_pool import (
    CHUNK,
    MIN_BATCH,
    ParsePool,
    Parsing,
    ready_or_cancel,
    result_or_none,
)
from pcse_intake.inbox_worker.poller import Poller, default_parse_processes
from pcse_intake.parsers import ParsedEmail, ParseOptions, parse
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from tests.inbox_worker.support import fixed_now, sample_messages

OPTIONS = ParseOptions(our_addresses=("pcse.intake@nhs.net",))


def test_a_batch_parsed_in_the_helper_equals_the_parse_in_line_and_the_helper_is_reused() -> None:
    raws = sample_messages(MIN_BATCH + 5)
    pool = ParsePool(OPTIONS, processes=1)
    try:
        first = [result_or_none(p) for p in pool.submit(raws)]
        assert pool.started
        again = [result_or_none(p) for p in pool.submit(raws[:MIN_BATCH])]
    finally:
        pool.close()
    assert first == [parse(raw, OPTIONS) for raw in raws]
    assert again == first[:MIN_BATCH]
    assert not pool.started  # closed; a later batch would start a new helper


def test_the_helper_starts_at_the_back_and_a_chunk_the_caller_reaches_first_is_cancelled() -> None:
    raws = sample_messages(3 * CHUNK)
    pool = ParsePool(OPTIONS, processes=1)
    try:
        parsings = pool.submit(raws)
        # The caller starts at the front while the helper is still starting: that chunk is
        # taken from the helper rather than parsed twice.
        assert ready_or_cancel(parsings[0]) is None
        first = parsings[0]
        assert first is not None and first.future.cancelled()
        assert ready_or_cancel(parsings[CHUNK - 1]) is None  # the rest of it: the caller's too
        last = parsings[-1]
        assert last is not None
        last.future.result(timeout=60)  # the helper began with the last chunk
        assert ready_or_cancel(last) == parse(raws[-1], OPTIONS)
    finally:
        pool.close()


def test_a_small_batch_or_no_helper_leaves_the_parse_to_the_caller() -> None:
    raws = sample_messages(MIN_BATCH)
    small = ParsePool(OPTIONS, processes=1)
    assert small.submit(raws[:-1]) == [None] * (MIN_BATCH - 1)
    assert not small.started  # an IDLE wake-up with one message starts no process
    assert ParsePool(OPTIONS, processes=0).submit(raws) == [None] * MIN_BATCH


def test_a_failed_hand_over_means_parse_again_here() -> None:
    failed: Future[list[ParsedEmail]] = Future()
    failed.set_exception(RuntimeError("the helper died"))
    assert result_or_none(Parsing(failed, 0)) is None
    assert result_or_none(None) is None


def test_the_config_can_turn_the_parse_helper_off() -> None:
    on, off = Settings(), Settings()
    off = dataclasses.replace(off, mailbox=dataclasses.replace(off.mailbox, parse_helper=False))
    sessions = make_sessionmaker(make_engine("sqlite://"))
    helpers = [
        Poller(
            ImapMailbox(s.mailbox, password=""), sessions, settings=s, now=fixed_now
        ).parse_pool.processes
        for s in (on, off)
    ]
    assert helpers == [default_parse_processes(), 0]
