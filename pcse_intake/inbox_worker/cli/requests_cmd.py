"""`pcse-intake requests list|show`: the queue, and one request with its history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.console.display import reveal
from pcse_intake.inbox_worker.cli.workflow_support import echo_json, run_in_transaction

if TYPE_CHECKING:
    from pcse_intake.workflows.queries import RequestDetail, RequestSummary

MESSAGE_LINES = 15  # of each message's own words, shown under the request

STATES = (
    "received",
    "awaiting_information",
    "awaiting_verification",
    "verified",
    "completed",
    "rejected",
    "cancelled",
)


@click.group(name="requests")
def requests_group() -> None:
    """The queue of requests."""


@requests_group.command(name="list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only this state.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
@click.pass_context
def list_command(ctx: click.Context, state: str | None, as_json: bool) -> None:
    """List requests, oldest first."""
    from pcse_intake.workflows.queries import list_requests

    def action(session: Session, _settings: Settings, _now: datetime) -> list[RequestSummary]:
        return list_requests(session, state=state)

    rows = run_in_transaction(ctx, action)
    if as_json:
        echo_json([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("no requests" + (f" in state {state}" if state else ""))
        return
    click.echo(f"{'REF':<12} {'STATE':<22} {'KIND':<23} {'RECEIVED':<17} {'ODS':<10} SENDER")
    for r in rows:
        click.echo(
            f"{r.ref:<12} {r.state:<22} {r.kind:<23} {r.received_at:%Y-%m-%d %H:%M} "
            f"{printable(r.ods_code or '-'):<10} {printable(r.sender or '-')}"
        )


@requests_group.command(name="show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The request as one JSON object.")
@click.pass_context
def show_command(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show one request: its details, problems, calls, history and e-mails."""
    from pcse_intake.workflows.queries import request_detail

    def action(session: Session, _settings: Settings, _now: datetime) -> RequestDetail:
        return request_detail(session, ref)

    detail = run_in_transaction(ctx, action)
    if as_json:
        echo_json(detail.to_json())
        return
    for line in render_detail(detail):
        click.echo(printable(line))


def render_detail(d: RequestDetail) -> list[str]:
    from pcse_intake.workflows.fields import leaves

    out = [
        f"{d.ref}  {d.kind}  {d.state}",
        f"received {d.received_at:%Y-%m-%d %H:%M} UTC from {d.sender or '(no sender)'}"
        f" (DMARC: {d.auth_verdict})",
        "",
        "Request:",
    ]
    out += [f"  {path}: {value}" for path, value in leaves(d.request).items()] or ["  (nothing)"]
    if d.missing:
        out += ["Missing:"] + [f"  {m}" for m in d.missing_described]
    if d.problems:
        out += ["Problems:"] + [f"  [{p.get('code')}] {p.get('message')}" for p in d.problems]
    for m in d.messages:
        heading = f"Message {m.id} ({m.status}) from {m.sender or '-'}: {m.subject or ''}"
        out += ["", heading]
        body = (m.body_text or m.full_text).strip().split("\n")
        out += [f"  | {line}" for line in body[:MESSAGE_LINES]]
        if len(body) > MESSAGE_LINES:
            out.append(f"  | ... ({len(body) - MESSAGE_LINES} more lines in the console)")
    out += ["", "Verification:"]
    if d.number_to_call:
        out.append(
            f"  number to call (from the registry): {d.number_to_call} ({d.number_to_call_for})"
        )
    else:
        out.append("  no number on record: find one from an independent source and note it")
    out += [f"  unverified number from the e-mail, do not use: {n}" for n in d.numbers_in_email]
    for c in d.calls:
        where = "" if c.phone_on_record else " (not on record)"
        note = f": {c.notes}" if c.notes else ""
        out.append(f"  {c.at:%Y-%m-%d %H:%M} {c.by} called {c.phone}{where}: {c.outcome}{note}")
    if d.changes:
        out += ["", "Approval will change:"]
        out += [f"  {c.what}: {c.before or '(none)'} -> {c.after or '(none)'}" for c in d.changes]
    if d.change is not None and d.change.text:
        change = f"{d.change.old_email or '(none)'} -> {d.change.new_email or '(none)'}"
        out += ["", f"E-mail change {change}: {d.change.text}"]
        if d.change.status == "scheduled":
            out.append(f"  to cancel it: pcse-intake cancel {d.ref} --by STAFF --reason TEXT")
    elif d.effect_note:
        out += ["", f"Effect: {d.effect_note}"]
    if d.rejection_reason:
        out += ["", f"Rejected by {d.rejected_by}: {d.rejection_reason}"]
    out += ["", "History:"]
    for h in d.history:
        line = f"  {h.at:%Y-%m-%d %H:%M} {h.by:<12} {h.action:<24} {h.state or '':<22}"
        out.append(f"{line} {h.note or ''}".rstrip())
    if d.outbox:
        out += ["", "E-mails:"]
        out += [f"  [{o.status}] {o.template} to {o.to}: {o.subject}" for o in d.outbox]
    return out


def printable(text: str) -> str:
    """One line of output with every hidden character shown as `[U+XXXX]`, as the console
    shows them: no escape sequence can drive the terminal, no line break in a practice's
    words can forge a line of its own, and no bidi control can reorder what staff read."""
    return reveal(text, keep="\t")
