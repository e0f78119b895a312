"""The `pcse-intake` command line: a group whose commands load only when they are run."""

from __future__ import annotations

import importlib
from typing import Any

import click

from pcse_intake import __version__

# name -> "module:attribute"; each area of the code owns its own command module.
COMMANDS: dict[str, str] = {
    "parse": "pcse_intake.inbox_worker.cli.parse_cmd:parse_command",
    "db": "pcse_intake.inbox_worker.cli.db_cmd:db_group",
    "ingest": "pcse_intake.inbox_worker.cli.ingest_cmd:ingest_command",
    "registry": "pcse_intake.inbox_worker.cli.registry_cmd:registry_group",
    "staff": "pcse_intake.inbox_worker.cli.staff_cmd:staff_group",
    "requests": "pcse_intake.inbox_worker.cli.requests_cmd:requests_group",
    "verify": "pcse_intake.inbox_worker.cli.decision_cmds:verify_command",
    "approve": "pcse_intake.inbox_worker.cli.decision_cmds:approve_command",
    "reject": "pcse_intake.inbox_worker.cli.decision_cmds:reject_command",
    "cancel": "pcse_intake.inbox_worker.cli.cancel_cmd:cancel_command",
    "hold": "pcse_intake.inbox_worker.cli.hold_cmd:hold_command",
    "poll": "pcse_intake.inbox_worker.cli.mailbox_cmds:poll_command",
    "run": "pcse_intake.inbox_worker.cli.mailbox_cmds:run_command",
    "outbox": "pcse_intake.inbox_worker.cli.mailbox_cmds:outbox_group",
    "demo": "pcse_intake.inbox_worker.cli.demo_cmd:demo_command",
    "serve": "pcse_intake.inbox_worker.cli.serve_cmd:serve_command",
    "reconcile": "pcse_intake.inbox_worker.cli.reconcile:reconcile_command",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command is asked for (fast `parse`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return _not_yet(cmd_name)
        command: click.Command = getattr(module, attribute)
        return command


def _not_yet(name: str) -> click.Command:
    @click.command(name=name, help="(not available in this build)")
    def unavailable() -> None:
        raise click.UsageError(f"'{name}' is not available in this build")

    return unavailable


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default ./config.toml, then $PCSE_INTAKE_CONFIG).",
)
@click.version_option(__version__, prog_name="pcse-intake")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """pcse-intake: the PCSE data-management mailbox, turned into verified, audited work."""
    ctx.obj = {"config_path": config_path}


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="pcse-intake")
