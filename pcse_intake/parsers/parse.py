"""The parser's entry point: one raw message to one `ParsedEmail`, whatever the bytes."""

from __future__ import annotations

import re
from dataclasses import replace

from pcse_intake.parsers import headers as hd
from pcse_intake.parsers import model as md
from pcse_intake.parsers import normalise as nf
from pcse_intake.parsers.classify import classify
from pcse_intake.parsers.extract import extract
from pcse_intake.parsers.html_text import html_to_text
from pcse_intake.parsers.mime import Body, parse_headers, read_body, split_head
from pcse_intake.parsers.model import AuthVerdict, ParsedEmail, ParseOptions, Problem, RequestKind
from pcse_intake.parsers.quoting import read_body as read_text
from pcse_intake.parsers.validate import missing, problems

MALFORMED = "malformed_message"
# Headers whose repetition makes identity ambiguous: we flag it and trust none of them.
_SINGLE = ("From", "Sender", "Subject", "Message-ID", "Date", "Reply-To", "Content-Type")
# A request is a few kilobytes. Classification and extraction read at most this much of
# what the sender wrote, in lines of at most MAX_LINE characters, so their cost stays
# bounded whatever a crafted body holds; `full_text` keeps up to MAX_FULL_TEXT for display.
MAX_REQUEST_CHARS = 64_000
MAX_LINE = 2_000
MAX_FULL_TEXT = 1_000_000


def parse(raw: bytes, options: ParseOptions | None = None) -> ParsedEmail:
    """Read one raw message; never raises, whatever the bytes."""
    options = options or ParseOptions()
    try:
        return _parse(bytes(raw), options)
    except Exception as exc:  # the one last resort: a defect of ours must not lose mail
        problem = Problem(MALFORMED, None, f"The message could not be read ({type(exc).__name__}).")
        try:  # keep what identifies the message, so it can still be recorded and answered
            headers = parse_headers(split_head(bytes(raw))[0])
            mailbox = hd.sole_mailbox(headers.get("From"))
            return ParsedEmail(
                kind=RequestKind.UNKNOWN,
                problems=(problem,),
                sender=mailbox.address if mailbox else None,
                message_id=hd.message_id(headers.get("Message-ID")),
                subject=hd.decode_header_value(headers.get("Subject")),
            )
        except Exception:
            return ParsedEmail(kind=RequestKind.UNKNOWN, problems=(problem,))


def _parse(raw: bytes, options: ParseOptions) -> ParsedEmail:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a byte-order mark written by an editor would hide the first header
    head, body_start = split_head(raw)
    headers = parse_headers(head)
    found: list[Problem] = []
    defects: list[str] = []
    duplicated = [n for n in _SINGLE if len(headers.get_all(n) or []) > 1]
    if duplicated:
        defects.append("repeated " + ", ".join(duplicated))
    subject = "" if "Subject" in duplicated else hd.decode_header_value(headers.get("Subject"))
    if hd.header_has_unknown_charset(headers.get("Subject")):
        defects.append("unknown charset in Subject")
    mailbox = None if "From" in duplicated else hd.sole_mailbox(headers.get("From"))
    if mailbox is None and headers.get("From") and "From" not in duplicated:
        defects.append("From does not hold exactly one unambiguous mailbox")
    reply_to = hd.first_mailbox(headers.get("Reply-To"))
    on_behalf = hd.first_mailbox(headers.get("Sender"))
    verdict = hd.auth_verdict(headers, options.authserv_ids)
    if hd.repeated_own_auth_results(headers, options.authserv_ids):
        defects.append("a second Authentication-Results field carries our mail server's id")
    sender = mailbox.address if mailbox else None
    date = hd.parse_date(headers.get("Date"))
    if date is None and headers.get("Date") is not None and "Date" not in duplicated:
        defects.append("the Date header could not be read")
    base = ParsedEmail(
        kind=RequestKind.UNKNOWN,
        sender=sender,
        sender_name=mailbox.name if mailbox else None,
        reply_to=reply_to.address if reply_to else None,
        sender_header=on_behalf.address if on_behalf else None,
        message_id=None if "Message-ID" in duplicated else hd.message_id(headers.get("Message-ID")),
        in_reply_to=hd.message_id(headers.get("In-Reply-To")),
        references=hd.message_ids(headers.get("References")),
        subject=subject,
        date=date,
        auth_verdict=verdict,
    )
    if verdict is AuthVerdict.FAIL:
        found.append(
            Problem(
                "sender_not_authenticated",
                None,
                "Our mail server could not confirm the sender (DMARC failed).",
            )
        )
    if len(raw) > options.max_message_bytes:
        found.append(
            Problem(
                "message_too_large",
                None,
                f"The message is over the {options.max_message_bytes}-byte limit; "
                "it was not read further.",
            )
        )
        automated = hd.is_automated(headers, subject, sender, report=False)
        return replace(base, problems=tuple(found), automated=automated)

    body = read_body(raw, headers, body_start)
    defects.extend(body.defects)
    full_text = _full_text(body)
    automated = hd.is_automated(headers, subject, sender, report=body.delivery_report)
    reading = read_text(_bounded(full_text), subject, _sender_names(base.sender_name, sender))
    own = "\n\n".join(t for t in (reading.own, reading.forwarded) if t)
    own = "\n".join(line[:MAX_LINE] for line in own[:MAX_REQUEST_CHARS].split("\n"))
    kind = RequestKind.UNKNOWN
    if automated:
        found.append(Problem("automated_message", None, "An auto-reply, bounce or list message."))
    # Matched with straight quotes (curly ones as straight); values keep the sender's characters.
    request_text = nf.straight_quotes(_without_our_addresses(own, options.our_addresses))
    plain_subject = nf.straight_quotes(subject)
    if not automated:
        kind = classify(plain_subject, request_text)
    parties = extract(
        kind, request_text, plain_subject, sender, nf.straight_quotes(reading.signature)
    )
    parties = {role: _with_quotes_of(party, f"{subject}\n{own}") for role, party in parties.items()}
    if kind is not RequestKind.UNKNOWN:
        found = problems(kind, parties) + found
    if defects:
        found.append(
            Problem(
                MALFORMED,
                None,
                "Part of the message could not be decoded: " + "; ".join(defects[:5]) + ".",
            )
        )
    return replace(
        base,
        kind=kind,
        parties=tuple(parties.items()),
        missing=missing(kind, parties),
        problems=tuple(found),
        automated=automated,
        body_text=own,
        full_text=full_text,
    )


def _with_quotes_of(party: md.Party, original: str) -> md.Party:
    """The party's names and address with the apostrophes and quotes the sender typed."""
    contact = party.main_contact
    if contact is not None and contact.name:
        contact = replace(contact, name=nf.with_quotes_of(contact.name, original))
    return replace(
        party,
        name=nf.with_quotes_of(party.name, original) if party.name else party.name,
        address=nf.with_quotes_of(party.address, original) if party.address else party.address,
        main_contact=contact,
    )


def _full_text(body: Body) -> str:
    texts = [html_to_text(p.text) if p.html else p.text for p in body.parts]
    text = "\n\n".join(t.strip("\n") for t in texts if t.strip())[:MAX_FULL_TEXT]
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _bounded(text: str) -> str:
    """The start of the text, in lines no longer than MAX_LINE, for quote and signature
    detection (the history and signature of a real request sit well inside it)."""
    return "\n".join(line[:MAX_LINE] for line in text[: MAX_REQUEST_CHARS * 2].split("\n"))


_PCSE_MAILBOX = re.compile(r"\bpcse\.[\w.-]{1,40}@nhs\.net\b", re.IGNORECASE)


def _without_our_addresses(text: str, ours: tuple[str, ...]) -> str:
    """Our own mailboxes (pasted FAQ text: "Send an email to pcse.datamanager@nhs.net") are
    never a practice's address or a contact's."""
    text = _PCSE_MAILBOX.sub("PCSE", text)
    for address in ours:
        if address:
            text = re.sub(re.escape(address), "PCSE", text, flags=re.IGNORECASE)
    return text


def _sender_names(display: str | None, address: str | None) -> tuple[str, ...]:
    """How the sender may sign: 'HEWITT, Barry (THORPE EDGE SURGERY)' -> Barry, Barry Hewitt."""
    names: list[str] = []
    if display:
        plain = re.sub(r"\([^)]*\)", "", display).strip()
        if "," in plain:
            last, first = (p.strip() for p in plain.split(",", 1))
            plain = f"{first} {last.title() if last.isupper() else last}"
        words = plain.split()
        if words:
            names.extend([plain, words[0]])
    if address:
        local = address.split("@")[0]
        parts = [p for p in re.split(r"[._-]", local) if p.isalpha()]
        if len(parts) >= 2:
            names.extend([parts[0], f"{parts[0]} {parts[-1]}"])
    return tuple(dict.fromkeys(n for n in names if n))
