"""Header reading: encoded words, addresses, dates, Authentication-Results, automated mail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from pcse_intake.parsers.mime import decode_text
from pcse_intake.parsers.model import AuthVerdict

# Header values are cut to this many characters before any parsing, so a crafted header
# (100k addresses, ';'-stuffing) costs at most a few milliseconds.
MAX_HEADER_CHARS = 4096
MAX_AUTH_HEADERS = 20

_ADDR_SPEC = re.compile(r"^[^\s@<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# No control characters: PostgreSQL cannot store a NUL, and no mail system writes one.
_MSG_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,500}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_COMMENT = re.compile(r"\([^()]*\)")
_DMARC = re.compile(r"\bdmarc\s*=\s*([a-z]+)", re.IGNORECASE)
_AUTOMATED_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(?:matic)?[- ]?reply|out of (?:the )?office|undeliverable|"
    r"undelivered mail|delivery status notification|delivery (?:has )?failed|"
    r"mail delivery (?:failed|failure|warning)|returned mail|failure notice|"
    r"delivery failure|mail could not be delivered)\b",
    re.IGNORECASE,
)
_DAEMON_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.I)


def decode_header_value(value: str | Header | None) -> str:
    """A header value as one clean line: encoded words decoded, raw 8-bit bytes read as
    UTF-8 or windows-1252, unknown charsets replaced, CR/LF/NUL turned into spaces."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 hands back a header holding raw 8-bit bytes (RFC 6532 UTF-8, as SMTPUTF8
        # servers send it) as a Header whose str() turns those bytes into U+FFFD; its
        # chunks keep the bytes, which are read like 8-bit body text (UTF-8, then 1252).
        value = "".join(
            decode_text(c, None)[0] if isinstance(c, bytes) else c for c, _ in decode_header(value)
        )
    value = str(value)[:MAX_HEADER_CHARS]
    try:
        pieces = decode_header(value)
    except Exception:  # email.errors.HeaderParseError and friends on crafted words
        pieces = [(value, None)]
    out: list[str] = []
    for chunk, charset in pieces:
        if isinstance(chunk, str):
            out.append(_undo_surrogates(chunk))
        else:
            out.append(decode_text(chunk, charset or "utf-8")[0])
    return " ".join(_CONTROL.sub(" ", "".join(out)).split())


def header_has_unknown_charset(value: str | None) -> bool:
    if value is None:
        return False
    try:
        pieces = decode_header(str(value)[:MAX_HEADER_CHARS])
    except Exception:
        return True
    return any(isinstance(c, bytes) and decode_text(c, cs)[1] for c, cs in pieces if cs)


def _undo_surrogates(text: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes; read them as text."""
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    return decode_text(data, None)[0]


@dataclass(frozen=True)
class Mailbox:
    address: str
    name: str | None


def first_mailbox(value: str | None) -> Mailbox | None:
    """The first well-formed mailbox in an address header, address lower-cased."""
    if not value:
        return None
    text = _undo_surrogates(str(value)[:MAX_HEADER_CHARS])
    text = _CONTROL.sub(" ", text)
    for name, address in getaddresses([text])[:10]:
        address = address.strip().lower()
        if address and _ADDR_SPEC.match(address):
            display = decode_header_value(name) if name else ""
            return Mailbox(address, display or None)
    return None


# RFC 5322 caps a line at 998 characters; a longer From is hostile and not worth a strict parse.
MAX_FROM_CHARS = 998


def sole_mailbox(value: str | None) -> Mailbox | None:
    """The From mailbox, only when the header holds exactly one unambiguous mailbox.

    Practices write again and again from the same From line, and the strict reading below
    is the dearest part of a parse, so a plain string's answer is remembered (the answer
    depends on the string alone; a `Mailbox` is immutable).
    """
    if type(value) is str and len(value) <= MAX_FROM_CHARS:
        return _sole_mailbox_of(value)
    return _sole_mailbox(value)


@lru_cache(maxsize=4096)
def _sole_mailbox_of(value: str) -> Mailbox | None:
    return _sole_mailbox(value)


def _sole_mailbox(value: str | None) -> Mailbox | None:
    """`sole_mailbox` itself.

    `email.utils.getaddresses` is lenient (CVE-2023-27043): `a@nhs.net)<b@x.org>` or
    `<a@nhs.net>; <b@x.org>` yield the practice's address although an attacker wrote both.
    Identity must fail closed, so the lenient reading has to agree with the strict
    header parser, which must find one mailbox and no defect; otherwise there is no sender.
    """
    if not value or len(str(value)) > MAX_FROM_CHARS:
        return None
    lenient = first_mailbox(value)
    text = _CONTROL.sub(" ", _undo_surrogates(str(value)))
    if lenient is None or len([a for _, a in getaddresses([text]) if a.strip()]) != 1:
        return None
    try:
        header = policy.default.header_factory("From", text)
        addresses = header.addresses
    except Exception:  # the strict parser gives up on some hostile forms: that is a "no"
        return None
    if header.defects or len(addresses) != 1:
        return None
    return lenient if addresses[0].addr_spec.lower() == lenient.address else None


def message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _MSG_ID.search(str(value)[:MAX_HEADER_CHARS])
    return found.group(0) if found else None


def message_ids(value: str | None, limit: int = 50) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSG_ID.findall(str(value)[: MAX_HEADER_CHARS * 4])[:limit])


def parse_date(value: str | None) -> datetime | None:
    """The Date header as a UTC datetime, or None when it is missing or cannot be read.

    Read into UTC here, so that no later step converts it: an offset that carries the time
    past the year 9999 or before the year 1 (`31 Dec 9999 23:59:59 -2359`) is unreadable
    here, not an error when the message is stored.
    """
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value)[:200])
        if moment.tzinfo is None:  # "-0000": the sender's zone is unknown (RFC 5322 3.3)
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def auth_verdict(headers: Message, authserv_ids: tuple[str, ...]) -> AuthVerdict:
    """DMARC as our own MTA reported it (RFC 8601 section 5).

    Headers are listed top-most first: each relay prepends its own. With ids configured,
    only a header whose authserv-id is one of ours counts (the others may be forged or
    were added elsewhere); with none configured, the top-most header counts.
    """
    ours = _our_ids(authserv_ids)
    for serv_id, text in _auth_results(headers):
        if ours and serv_id not in ours:
            continue
        found = _DMARC.search(text)
        if found is None:
            return AuthVerdict.NONE
        result = found.group(1).lower()
        if result == "pass":
            return AuthVerdict.PASS
        if result == "fail":
            return AuthVerdict.FAIL
        return AuthVerdict.NONE
    return AuthVerdict.NONE


def repeated_own_auth_results(headers: Message, authserv_ids: tuple[str, ...]) -> bool:
    """More than one Authentication-Results field carries our MTA's id (RFC 8601 7.1).

    Our MTA adds one field; a second with our id was written by someone else, typically
    below the real one to pass as ours, so it is flagged. Fields with other ids are ignored
    but not flagged: every relay on the way adds its own, so nearly all real mail has them.
    """
    ours = _our_ids(authserv_ids)
    return bool(ours) and sum(serv_id in ours for serv_id, _ in _auth_results(headers)) > 1


def _our_ids(authserv_ids: tuple[str, ...]) -> frozenset[str]:
    return frozenset(i.strip().lower() for i in authserv_ids if i.strip())


def _auth_results(headers: Message) -> list[tuple[str, str]]:
    """(authserv-id in lower case, field text without comments), top-most field first."""
    fields = []
    for value in (headers.get_all("Authentication-Results") or [])[:MAX_AUTH_HEADERS]:
        text = _CONTROL.sub(" ", str(value)[:MAX_HEADER_CHARS])
        for _ in range(3):  # comments may nest a little; each pass removes one level
            text = _COMMENT.sub(" ", text)
        serv_id = text.split(";", 1)[0].split()
        fields.append((serv_id[0].lower() if serv_id else "", text))
    return fields


# RFC 3834 section 2: a responder may refuse on these; `auto_reply` is what some responders
# send instead of Auto-Submitted.
AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
# Any RFC 2369 / RFC 2919 list field marks list mail, not only List-Id.
LIST_HEADERS = (
    "List-Id",
    "List-Unsubscribe",
    "List-Post",
    "List-Help",
    "List-Subscribe",
    "List-Owner",
    "List-Archive",
)


# Every e-mail we send carries this field (inbox_worker/smtp_sender.py), as Request Tracker
# marks its own with X-RT-Loop-Prevention: a forwarder or redirect that sends our mail back
# under another From keeps it. It needs no key: forging it only stops us answering the forger.
LOOP_HEADER = "X-PCSE-Intake-Loop"


def is_automated(headers: Message, subject: str, sender: str | None, *, report: bool) -> bool:
    """Auto-replies, bounces and list mail: RFC 3834 Auto-Submitted, DSNs (RFC 3464),
    Precedence bulk/junk/list, list headers (RFC 2369/2919), our own loop field, and the
    subjects and sender names that auto-responders without those headers still use."""
    if headers.get(LOOP_HEADER) is not None:
        return True
    auto = str(headers.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if str(headers.get("Precedence", "")).strip().lower() in AUTOMATED_PRECEDENCE:
        return True
    if any(headers.get(name) for name in LIST_HEADERS):
        return True
    if headers.get("X-Autoreply") or headers.get("X-Autorespond"):
        return True
    if report or headers.get_content_type() == "multipart/report":
        return True
    if str(headers.get("Return-Path", "")).strip() == "<>":
        return True
    if sender and _DAEMON_SENDER.match(sender):
        return True
    return bool(_AUTOMATED_SUBJECT.match(subject))
