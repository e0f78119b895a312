"""Reading a bounce (RFC 3464 DSN, Exchange NDR, qmail/Exim notice): which mail came back, why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from pcse_intake.parsers import headers as hd
from pcse_intake.parsers.mime import (
    MAX_DEPTH,
    MAX_PARTS,
    decode_text,
    decode_transfer,
    parse_headers,
    split_head,
    split_parts,
)

# A bounce names a handful of messages and recipients; anything past these caps is noise
# or hostile, and reading it could only cost time.
MAX_IDS = 20
MAX_RECIPIENTS = 20
MAX_REPORT_BYTES = 64 * 1024  # of one delivery-status part
MAX_TEXT_BYTES = 256 * 1024  # of one text part searched for a returned Message-ID
MAX_REPORT_BLOCKS = 50
MAX_DIAGNOSTIC_CHARS = 300

# The parts that carry the returned message or its header (RFC 3462, RFC 6533 for "global").
_RETURNED = frozenset(
    {
        "message/rfc822",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/global",
        "message/global-headers",
    }
)
_REPORTS = frozenset({"message/delivery-status", "message/global-delivery-status"})
# Words a delivery failure's subject carries somewhere (the subjects of the flufl.bounce
# corpus: "Undelivered Mail Returned to Sender", "Mail Not Delivered", "Processing Error").
_FAILURE_SUBJECT = re.compile(
    r"undeliver|not (?:be )?delivered|(?:delivery|mail|processing|permanent) (?:error|fail)|"
    r"delivery (?:status|problem|notification|warning)|returned mail|returning message|"
    r"failure notice|failed mail|non[- ]?delivery|could not (?:be )?(?:deliver|sen)|"
    r"\bfailure delivery\b|rejected mail|mail failure",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(r"\b(delay(?:ed)?|warning)\b", re.IGNORECASE)
_DAEMON = re.compile(
    r"^(mailer-daemon|postmaster|mdaemon|mail\.?delivery(?:\.system)?|ndr|"
    r"microsoftexchange[0-9a-f]*)(?:@|$)",
    re.IGNORECASE,
)
_DAEMON_NAME = re.compile(
    r"mail delivery (?:system|subsystem)|mailer-daemon|postmaster|system administrator",
    re.IGNORECASE,
)
_QUOTED_ID = re.compile(
    r"^\s*>?\s*Message-ID:[ \t]*(<[^<>\s]{1,500}>)", re.IGNORECASE | re.MULTILINE
)
_ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
# A failed recipient in a notice's text, as qmail, Postfix and others write it: "<address>:"
# then the remote server's words, on the same line or the next.
_TEXT_RECIPIENT = re.compile(
    r"^[ \t]*<([^<>\s@]{1,64}@[A-Za-z0-9.-]{1,255})>:[ \t]*(?:\r?\n[ \t]*)?([^\r\n]{1,300})",
    re.MULTILINE,
)
_ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


@dataclass(frozen=True)
class BounceInfo:
    """What a bounce says about the message(s) it returns.

    `returned_ids` lists the Message-IDs of the returned message first (from its attached
    copy or header block), then the bounce's own In-Reply-To and References; `action` is
    RFC 3464's ("failed" unless the bounce says the delivery is only delayed).
    """

    returned_ids: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    action: str = "failed"
    status: str | None = None
    diagnostic: str | None = None
    envelope_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.action == "failed"

    def reason(self) -> str:
        """One plain line for staff: who could not be reached, and what their server said."""
        who = ", ".join(self.recipients[:3]) or "the recipient"
        said = self.diagnostic or (f"status {self.status}" if self.status else "no reason given")
        return f"delivery to {who} {self.action}: {said}"[:500]


@dataclass
class _Found:
    returned: list[str]
    recipients: list[str]
    actions: list[str]
    statuses: list[str]
    diagnostics: list[str]
    in_text: list[tuple[str, str]]  # (recipient, what the server said) from a notice's text
    envelope_id: str | None = None
    report: bool = False
    parts: int = 0


def read_bounce(raw: bytes) -> BounceInfo | None:
    """The bounce in `raw`, or None when it is not one; never raises, whatever the bytes."""
    try:
        return _read(bytes(raw))
    except Exception:  # a defect of ours must never stop mail being stored
        return None


def _read(raw: bytes) -> BounceInfo | None:
    head, body_start = split_head(raw)
    top = parse_headers(head)
    found = _Found([], [], [], [], [], [])
    ctype = top.get_content_type()
    report = ctype == "multipart/report" and (
        str(top.get_param("report-type", "")).lower() == "delivery-status"
    )
    _walk(raw, top, body_start, len(raw), 0, found)
    failed_header = str(top.get("X-Failed-Recipients", ""))[: hd.MAX_HEADER_CHARS]
    if not (report or found.report or _looks_like_failure(top, failed_header)):
        return None
    found.recipients.extend(_addresses(failed_header))
    if not found.diagnostics:  # no delivery-status part said it: take the notice's text
        for address, said in found.in_text:
            found.recipients.append(address)
            found.diagnostics.append(" ".join(said.split())[:MAX_DIAGNOSTIC_CHARS])
            status = _ENHANCED_STATUS.search(said)
            if status:
                found.statuses.append(status.group(1))
    own = [
        hd.message_id(top.get("In-Reply-To")),
        *hd.message_ids(top.get("References")),
    ]
    ids = [i for i in (*found.returned, *own) if i]
    subject = hd.decode_header_value(top.get("Subject"))
    return BounceInfo(
        returned_ids=tuple(dict.fromkeys(ids))[:MAX_IDS],
        recipients=tuple(dict.fromkeys(r.lower() for r in found.recipients))[:MAX_RECIPIENTS],
        action=_action(found.actions, subject, report or found.report),
        status=found.statuses[0] if found.statuses else None,
        diagnostic=found.diagnostics[0] if found.diagnostics else None,
        envelope_id=found.envelope_id,
    )


def _looks_like_failure(top: Message, failed_header: str) -> bool:
    """A failure notice without a delivery-status part (qmail, Exim, old Exchange)."""
    if failed_header.strip() or top.get("X-MS-Exchange-Message-Is-Ndr") is not None:
        return True
    subject = hd.decode_header_value(top.get("Subject"))
    return bool(_FAILURE_SUBJECT.search(subject)) and _from_the_mail_system(top)


def _from_the_mail_system(top: Message) -> bool:
    """A null return path or null From, or a mailer-daemon/postmaster address or name."""
    path = top.get("Return-Path")
    from_value = str(top.get("From", ""))[: hd.MAX_HEADER_CHARS]
    if path is not None and _DAEMON.match(str(path)[:300].strip().strip("<>") or "mailer-daemon"):
        return True  # "<>", "<MAILER-DAEMON>", "<postmaster@...>"
    if "<>" in from_value:
        return True
    sender = hd.first_mailbox(from_value)
    if sender is not None and _DAEMON.match(sender.address):
        return True
    return bool(_DAEMON_NAME.search(hd.decode_header_value(from_value)))


def _action(actions: list[str], subject: str, report: bool) -> str:
    if "failed" in actions:
        return "failed"
    if actions:
        return actions[0]
    if not report and _DELAY_SUBJECT.search(subject):
        return "delayed"
    return "failed"


def _walk(raw: bytes, headers: Message, start: int, end: int, depth: int, found: _Found) -> None:
    found.parts += 1
    if found.parts > MAX_PARTS or depth > MAX_DEPTH:
        return
    ctype = headers.get_content_type()
    if ctype.startswith("multipart/"):
        boundary = headers.get_param("boundary")
        if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
            return
        ranges, _closed = split_parts(raw, boundary.encode("utf-8", "replace"), start, end)
        for part_start, part_end in ranges:
            head, body_start = split_head(raw, part_start, part_end)
            _walk(raw, parse_headers(head), body_start, part_end, depth + 1, found)
            if found.parts > MAX_PARTS:
                return
        return
    if ctype in _REPORTS:
        found.report = True
        _report(_decoded(raw, headers, start, min(end, start + MAX_REPORT_BYTES)), found)
    elif ctype in _RETURNED:
        head, _ = split_head(_decoded(raw, headers, start, end, head_only=True))
        returned = hd.message_id(parse_headers(head).get("Message-ID"))
        if returned:
            found.returned.append(returned)
    elif ctype == "text/plain" and depth <= 1:
        # qmail and Exim quote the returned message in the text ("--- Below this line is a
        # copy of the message."): its Message-ID line is the only id they give.
        text = _decoded(raw, headers, start, min(end, start + MAX_TEXT_BYTES)).decode("latin-1")
        found.returned.extend(_QUOTED_ID.findall(text)[:MAX_IDS])
        found.in_text.extend(_TEXT_RECIPIENT.findall(text)[:MAX_RECIPIENTS])


def _decoded(
    raw: bytes, headers: Message, start: int, end: int, *, head_only: bool = False
) -> bytes:
    """The part's bytes with its transfer encoding undone (a header block is small: when
    only that is wanted, the part is read no further than MAX_REPORT_BYTES)."""
    if head_only:
        end = min(end, start + MAX_REPORT_BYTES)
    cte = str(headers.get("Content-Transfer-Encoding", "7bit"))
    data, _broken = decode_transfer(raw[start:end], cte)
    return data


def _report(data: bytes, found: _Found) -> None:
    """The per-message and per-recipient fields of a delivery-status part (RFC 3464 §2)."""
    text, _unknown = decode_text(data, None)
    blocks = [b for b in re.split(r"\r?\n[ \t]*\r?\n", text.strip()) if b.strip()]
    for n, block in enumerate(blocks[:MAX_REPORT_BLOCKS]):
        fields = parse_headers(block.encode("utf-8", "replace") + b"\n")
        if n == 0:
            envelope = hd.decode_header_value(fields.get("Original-Envelope-Id"))
            found.envelope_id = envelope[:200] or None
        recipient = fields.get("Final-Recipient") or fields.get("Original-Recipient")
        if recipient is None:
            continue
        address = hd.decode_header_value(str(recipient)).split(";", 1)[-1].strip().strip("<>")
        if address:
            found.recipients.append(address[:254])
        action = hd.decode_header_value(fields.get("Action")).lower().split(" ")[0]
        if action in _ACTIONS:
            found.actions.append(action)
        status = _ENHANCED_STATUS.search(hd.decode_header_value(fields.get("Status")))
        if status:
            found.statuses.append(status.group(1))
        diagnostic = hd.decode_header_value(fields.get("Diagnostic-Code"))
        if diagnostic:
            said = diagnostic.split(";", 1)[-1].strip()
            found.diagnostics.append(said[:MAX_DIAGNOSTIC_CHARS])


def _addresses(value: str) -> list[str]:
    """The addresses of a comma-separated header (X-Failed-Recipients), bounded."""
    mailboxes = (hd.first_mailbox(piece) for piece in value.split(",")[:MAX_RECIPIENTS])
    return [m.address for m in mailboxes if m is not None]
