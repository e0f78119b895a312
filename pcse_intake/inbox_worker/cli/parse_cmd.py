"""`pcse-intake parse FILE.eml`: print what the parser reads from one message, as JSON."""

from __future__ import annotations

import json
import sys

import click

from pcse_intake.inbox_worker.cli.common import UsageProblem, settings_from


class _OneLineUsageErrors(click.Command):
    """Scripts read stderr: a usage error is one line (exit 2), not click's usage block."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise UsageProblem(exc.format_message()) from exc


@click.command(name="parse", cls=_OneLineUsageErrors)
@click.argument("path", metavar="FILE.eml", type=click.Path(allow_dash=True))
@click.option("--pretty", is_flag=True, help="Indent the JSON.")
@click.pass_context
def parse_command(ctx: click.Context, path: str, pretty: bool) -> None:
    """Parse one raw message (or '-' for standard input) and print one JSON object."""
    settings = settings_from(ctx)
    try:
        if path == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                # one byte past the limit is enough to tell "too large"; the rest is not read
                raw = handle.read(settings.parser.max_message_bytes + 1)
    except OSError as exc:
        raise UsageProblem(f"cannot read {path}: {exc.strerror or exc}") from exc

    from pcse_intake.parsers import ParseOptions, parse  # imported after the usage checks

    authserv = settings.mailbox.authserv_id.strip()
    options = ParseOptions(
        max_message_bytes=settings.parser.max_message_bytes,
        authserv_ids=(authserv,) if authserv else (),
    )
    parsed = parse(raw, options)
    click.echo(json.dumps(parsed.to_json(), indent=2 if pretty else None, ensure_ascii=False))
