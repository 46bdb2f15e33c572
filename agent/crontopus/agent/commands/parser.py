"""The argument parser of every `crontopus-agent` subcommand."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version


def agent_version() -> str:
    """Return the installed crontopus-agent version."""
    try:
        return version("crontopus-agent")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crontopus-agent",
        description="Reconciles this machine's scheduler from the Crontopus Git repository.",
    )
    parser.add_argument("--version", action="version", version=f"crontopus-agent {agent_version()}")
    parser.add_argument(
        "--state-dir",
        help="state directory (default: $CRONTOPUS_AGENT_STATE_DIR, /var/lib/crontopus-agent"
        " for root, ~/.local/state/crontopus-agent otherwise)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    enroll = commands.add_parser("enroll", help="enroll this machine with an enrollment token")
    enroll.add_argument("--server", required=True, help="the server's base URL")
    token = enroll.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", help="an enrollment token (cten_...)")
    token.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the enrollment token from standard input (keeps it out of process lists)",
    )
    enroll.add_argument("--name", help="the endpoint's name (default: the host name)")
    enroll.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="an endpoint label"
    )
    enroll.add_argument("--driver", help="the scheduler driver (default: the platform's)")
    enroll.add_argument("--force", action="store_true", help="enroll again, replacing the token")

    daemon = commands.add_parser(
        "run", help="run the agent daemon (heartbeat, sync, spool delivery)"
    )
    daemon.add_argument(
        "--log-file",
        metavar="PATH",
        help="also log to PATH, rotated at 10 MiB with 5 kept (for managers that keep no"
        " output, such as Windows Task Scheduler)",
    )

    sync = commands.add_parser("sync", help="sync the scheduler with the repository once")
    sync.add_argument("--once", action="store_true", help="sync once and exit")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    sync.add_argument("--force", action="store_true", help="apply even when nothing changed")

    status = commands.add_parser("status", help="show enrollment, last sync and the spool")
    status.add_argument("--json", action="store_true", help="print JSON")

    drivers = commands.add_parser("drivers", help="list the driver plugins found")
    drivers.add_argument("--json", action="store_true", help="print JSON")
    drivers_commands = drivers.add_subparsers(dest="drivers_command", metavar="SUBCOMMAND")
    convert = drivers_commands.add_parser("convert", help="convert a schedule to a native form")
    convert.add_argument("driver", metavar="DRIVER")
    convert.add_argument("--schedule", required=True, help='a cron schedule, e.g. "0 2 * * *"')
    convert.add_argument("--timezone", help="an IANA zone (default: the machine's zone)")
    convert.add_argument("--json", action="store_true", help="print JSON")

    run_job = commands.add_parser("run-job", help="run one job and report it (the wrapper)")
    run_job.add_argument("job_id", metavar="UUID")
    run_job.add_argument(
        "--gate",
        action="store_true",
        help="run only if this minute is one of the job's instants (the driver fires a superset)",
    )

    commands.add_parser("validate-config", help="check the config, token and driver")

    unenroll = commands.add_parser(
        "unenroll",
        help="remove every managed scheduler entry, revoke this endpoint and forget its token",
    )
    unenroll.add_argument(
        "--local-only",
        action="store_true",
        help="clean up this machine without telling the server (an admin revokes it there)",
    )

    from crontopus.agent.service.command import add_parser as add_service_parser

    add_service_parser(commands)
    return parser
