"""`pcse-intake serve`: the staff web console under uvicorn."""

from __future__ import annotations

import click

from pcse_intake.inbox_worker.cli.common import fail, open_database, settings_from
from pcse_intake.inbox_worker.imap_source import is_loopback


@click.command(name="serve")
@click.option("--bind", default=None, help="Address to listen on (default: [console] bind).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: [console] port).")
@click.pass_context
def serve_command(ctx: click.Context, bind: str | None, port: int | None) -> None:
    """Serve the staff console (sign in with an account from `pcse-intake staff add`)."""
    import uvicorn

    from pcse_intake.console.app import create_app

    settings = settings_from(ctx)
    host = bind or settings.console.bind
    listen_port = settings.console.port if port is None else port
    if not settings.console.secure_cookies and not is_loopback(host):
        # Session cookies without Secure would cross the network in clear text.
        fail(
            f"[console] secure_cookies = false is only allowed on loopback, not on {host}; "
            "serve over HTTPS (a TLS-terminating proxy) with secure_cookies = true"
        )
    database = open_database(settings)
    app = create_app(settings, database.sessions)
    click.echo(f"staff console on http://{host}:{listen_port}/ (Ctrl+C to stop)")
    uvicorn.run(
        app,
        host=host,
        port=listen_port,
        log_level=settings.logging.level.lower(),
        # The console reads X-Forwarded-For itself, and only from the proxies that
        # [console] trusted_proxies names: uvicorn would believe any local process.
        proxy_headers=False,
        server_header=False,
        date_header=True,
    )
