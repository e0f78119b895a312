"""Battery section 3 (cases 26-29): look-alike senders, display names, Reply-To and the
CVE-2023-27043 address vectors, through the real parser and `record_message`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pcse_intake.workflows.models import OutboxMessage, Request
from tests.conftest import TestDatabase
from tests.hardening.conftest import email_change_raw, ingest

ON_RECORD = b"From: Ouseburn Surgery <ouseburn.surgery@nhs.net>"


def _request(database: TestDatabase, ref: str | None) -> Request:
    assert ref is not None
    with database.sessions() as session:
        request = session.scalars(select(Request).where(Request.id == int(ref[5:]))).one()
        session.expunge(request)
    return request


def _codes(request: Request) -> set[str]:
    return {p["code"] for p in request.problems}


def _to_addresses(database: TestDatabase) -> list[str]:
    with database.sessions() as session:
        return list(session.scalars(select(OutboxMessage.to_addr)))


LOOK_ALIKES = {
    "hyphen": "ouseburn.surgery@nhs-net.co.uk",
    "suffix": "ouseburn.surgery@nhs.net.co",
    "double_t": "ouseburn.surgery@nhs.nett",
    "rn_for_m": "ouseburn.surgery@rnhs.net",
    "idn": "ouseburn.surgery@xn--nhs-9na.net",
    "cyrillic_ie": "ouseburn.surgery@nhs.n\u0435t",
    "zwsp_domain": "ouseburn.surgery@nhs\u200b.net",
    "zwsp_local": "ouseburn.surgery\u200b@nhs.net",
}
GAPS: dict[str, str] = {}  # look-alikes the product does not catch yet (none today)


@pytest.mark.parametrize(
    "sender",
    [
        pytest.param(
            v,
            id=k,
            marks=[pytest.mark.xfail(strict=True, reason=GAPS[k])] if k in GAPS else [],
        )
        for k, v in LOOK_ALIKES.items()
    ],
)
def test_a_look_alike_sender_is_never_treated_as_nhsmail_or_the_practice(
    ready: TestDatabase, sender: str
) -> None:
    result = ingest(ready, email_change_raw(sender=sender))
    request = _request(ready, result.request_ref)
    assert request.sender != "ouseburn.surgery@nhs.net"
    assert "sender_not_on_record" in _codes(request)
    # Either the address was refused outright, or it is flagged as not NHSmail.
    assert request.sender is None or "not_nhsmail_sender" in _codes(request)
    assert request.sender is None or not request.sender.endswith("@nhs.net")


def test_a_look_alike_domain_is_flagged_as_a_look_alike(ready: TestDatabase) -> None:
    result = ingest(ready, email_change_raw(sender="ouseburn.surgery@rnhs.net"))
    assert "lookalike_sender" in _codes(_request(ready, result.request_ref))


def test_reply_to_is_never_written_to(ready: TestDatabase) -> None:
    result = ingest(ready, email_change_raw(extra="Reply-To: ouseburn.surgery@gmail.com\r\n"))
    assert result.outbox_ids
    assert _to_addresses(ready) == ["ouseburn.surgery@nhs.net"]


@pytest.mark.parametrize("header", ["Reply-To", "Sender"])
def test_a_sender_or_reply_to_other_than_from_is_flagged(ready: TestDatabase, header: str) -> None:
    result = ingest(ready, email_change_raw(extra=f"{header}: attacker@gmail.com\r\n"))
    codes = _codes(_request(ready, result.request_ref))
    assert codes - {"possible_duplicate"}, codes


DISPLAY_SPOOFS = {
    "quoted": b'From: "Ouseburn Surgery <ouseburn.surgery@nhs.net>" <ouseburn.admin@gmail.com>',
    "encoded": b"From: =?utf-8?q?ouseburn.surgery=40nhs.net?= <ouseburn.admin@gmail.com>",
}


@pytest.mark.parametrize("raw_from", DISPLAY_SPOOFS.values(), ids=DISPLAY_SPOOFS.keys())
def test_a_display_name_spoof_uses_only_the_real_address(
    ready: TestDatabase, raw_from: bytes
) -> None:
    result = ingest(ready, email_change_raw().replace(ON_RECORD, raw_from))
    request = _request(ready, result.request_ref)
    assert request.sender == "ouseburn.admin@gmail.com"
    assert {"not_nhsmail_sender", "sender_not_on_record"} <= _codes(request)
    assert "ouseburn.surgery@nhs.net" not in _to_addresses(ready)


def test_a_display_name_holding_another_address_is_flagged(ready: TestDatabase) -> None:
    raw = email_change_raw().replace(ON_RECORD, DISPLAY_SPOOFS["quoted"])
    codes = _codes(_request(ready, ingest(ready, raw).request_ref))
    assert codes - {"not_nhsmail_sender", "sender_not_on_record", "possible_duplicate"}


CVE_2023_27043 = {
    "double_at": (b"From: a@nhs.net@example.org", None),
    "paren": (b"From: ouseburn.surgery@nhs.net)<attacker@example.org>", None),
    "two_angles": (b"From: <ouseburn.surgery@nhs.net>; <attacker@example.org>", None),
}


@pytest.mark.parametrize(
    "raw_from",
    [
        pytest.param(
            v[0], id=k, marks=[pytest.mark.xfail(strict=True, reason=v[1])] if v[1] else []
        )
        for k, v in CVE_2023_27043.items()
    ],
)
def test_an_ambiguous_from_is_linked_to_neither_address_and_nobody_is_written_to(
    ready: TestDatabase, raw_from: bytes
) -> None:
    result = ingest(ready, email_change_raw().replace(ON_RECORD, raw_from))
    if result.request_ref is not None:
        request = _request(ready, result.request_ref)
        assert request.sender is None
    assert _to_addresses(ready) == []
