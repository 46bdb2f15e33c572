"""The `crontopus-agent` subcommands other than `run-job` (see cli.py for that fast path)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crontopus.agent.config import AgentConfig, load_config, parse_label, save_config, with_updates
from crontopus.agent.errors import ConfigError, UsageError
from crontopus.agent.statedir import StateDir, resolve_state_dir
from crontopus.core.errors import CrontopusError

if TYPE_CHECKING:
    from crontopus.agent.sync import Syncer
    from crontopus.drivers import Driver

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3


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


def dispatch(argv: Sequence[str]) -> int:
    """Parse `argv` and run the subcommand."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors end here
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    state = StateDir(resolve_state_dir(args.state_dir))
    handlers = {
        "enroll": enroll,
        "run": run,
        "sync": sync,
        "status": status,
        "drivers": drivers,
        "validate-config": validate_config,
        "run-job": run_job,
        "unenroll": unenroll,
        "service": service,
    }
    try:
        code = handlers[args.command](state, args)
        sys.stdout.flush()  # inside the try: a closed pipe must surface here, not at exit
        return code
    except UsageError as exc:
        print(f"crontopus-agent {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CrontopusError as exc:  # agent and driver errors say what to fix; no traceback
        print(f"crontopus-agent {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return stop_on_closed_pipe()


def stop_on_closed_pipe() -> int:
    """End quietly when a reader such as `head` closed standard output early."""
    # Python flushes stdout again at exit and would print a second traceback: point it at
    # /dev/null first (the recipe of the Python docs on SIGPIPE).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def human(value: object) -> str:
    """Render a value for people: yes/no, "-" for nothing, lists and mappings as words."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(human(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={human(v)}" for k, v in value.items()) or "none"
    return str(value)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_COUNT = 5


def _setup_logging(config: AgentConfig, log_file: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        from logging.handlers import RotatingFileHandler

        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            RotatingFileHandler(
                log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_COUNT, encoding="utf-8"
            )
        )
    logging.basicConfig(level=config.log_level.upper(), format=LOG_FORMAT, handlers=handlers)


def enroll(state: StateDir, args: argparse.Namespace) -> int:
    """Enroll with the server and store the endpoint token and config."""
    from crontopus.agent import machine
    from crontopus.agent.drivers import driver_name
    from crontopus.agent.server import ServerClient
    from crontopus.drivers import describe_drivers, get_plugin_manager

    if state.read_token() is not None and not args.force:
        print(
            f"crontopus-agent enroll: {state.root} is already enrolled: pass --force to enroll"
            " again (the agent proves it is this machine with its current token)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    token = sys.stdin.readline().strip() if args.token_stdin else args.token
    if not token:
        raise UsageError("--token-stdin: standard input held no token (expected cten_...)")
    labels: dict[str, str] = {}
    for text in args.label:
        try:
            key, value = parse_label(text)
        except ValueError as exc:
            raise UsageError(f"--label: {exc}") from None
        labels[key] = value
    config = load_config(state)
    name = args.name or machine.hostname()
    changes: dict[str, Any] = {"server": args.server, "name": name, "labels": labels}
    if args.driver:
        changes["driver"] = args.driver
    # Validate through the same rules as config.yaml, so --server errors read the same.
    from crontopus.agent.config import validate_config as check

    merged = {**config.to_yaml_dict(), **changes}
    config = check(merged, {key: f"--{key}" for key in changes}, str(state.config))
    drivers = [info.name for info in describe_drivers(get_plugin_manager()) if not info.shadowed]
    chosen = driver_name(config)
    # The token this machine holds proves a re-enrollment is its own (else an admin approves).
    current_token = state.read_token()
    with ServerClient(config.require_server()) as client:
        enrollment = client.enroll(
            token,
            current_token=current_token,
            name=name,
            hostname=machine.hostname(),
            platform=machine.platform_name(),
            machine_id=machine.machine_id(),
            agent_version=agent_version(),
            drivers=drivers,
            labels=labels,
        )
    state.create()
    state.write_token(enrollment.token)
    updates: dict[str, Any] = {"driver": chosen}
    if enrollment.endpoint_id is not None:
        updates["endpoint_id"] = enrollment.endpoint_id
    if enrollment.heartbeat_interval:
        # The server judges "offline" by its own interval: beat at that pace.
        updates["heartbeat_interval"] = float(enrollment.heartbeat_interval)
    # Written even when it equals the default: config.yaml then says what the agent beats at.
    save_config(state, with_updates(config, **updates), always=("heartbeat_interval",))
    if enrollment.pending is not None:
        print(f"crontopus-agent enroll: not yet: {enrollment.pending}", file=sys.stderr)
        print(f"the agent starts working once an admin approves (state directory: {state.root})")
        return EXIT_OK
    print(f"enrolled {name} as endpoint {enrollment.endpoint_id} (driver {chosen})")
    print(f"state directory: {state.root}")
    return EXIT_OK


def _syncer(state: StateDir, config: AgentConfig) -> Syncer:
    from crontopus.agent.server import ServerClient
    from crontopus.agent.sync import Syncer

    token = state.read_token()
    client = ServerClient(config.server, token) if config.server and token else None
    return Syncer(state, config, _driver(config), client)


def _driver(config: AgentConfig) -> Driver:
    from crontopus.agent.drivers import build_driver

    return build_driver(config)


def run(state: StateDir, args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM."""
    from crontopus.agent.daemon import Daemon
    from crontopus.agent.errors import NotEnrolled

    config = load_config(state)
    _setup_logging(config, args.log_file)
    token = state.read_token()
    if token is None:
        raise NotEnrolled(f"{state.token}: no endpoint token: run `crontopus-agent enroll` first")
    from crontopus.agent.server import ServerClient
    from crontopus.agent.sync import Syncer

    client = ServerClient(config.require_server(), token)
    state.create()
    syncer = Syncer(state, config, _driver(config), client)
    daemon = Daemon(state, config, syncer, client, token, agent_version())
    daemon.install_signal_handlers()
    logging.getLogger(__name__).info(
        "crontopus-agent %s running with driver %s, state in %s",
        agent_version(),
        syncer.driver.name,
        state.root,
    )
    try:
        daemon.run()
    finally:
        client.close()
    return EXIT_OK


def sync(state: StateDir, args: argparse.Namespace) -> int:
    """Sync once (or print the plan with --dry-run), then deliver the spool."""
    if not args.once:
        print(
            "crontopus-agent sync: pass --once to sync once"
            f"{' (with --dry-run to only print the plan)' if args.dry_run else ''}"
            " (the daemon is `crontopus-agent run`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config = load_config(state)
    _setup_logging(config)
    state.create()
    syncer = _syncer(state, config)
    try:
        outcome = syncer.sync(dry_run=args.dry_run, force=args.force)
        if outcome.fetch_error:
            print(f"warning: {outcome.fetch_error}", file=sys.stderr)
        for problem in outcome.problems:
            print(f"problem: {problem}", file=sys.stderr)
        if outcome.skipped:
            print(f"up to date at {outcome.commit} (nothing changed)")
        elif outcome.plan is not None:
            prefix = "plan" if args.dry_run else "applied"
            print(f"{prefix} for commit {outcome.commit}:")
            for line in outcome.plan.lines():
                print(f"  {line}")
        if outcome.report_error:
            print(f"warning: reporting failed: {outcome.report_error}", file=sys.stderr)
        if not args.dry_run:
            _drain_spool(state, config)
    finally:
        if syncer.client is not None:
            syncer.client.close()
    return EXIT_OK


def _drain_spool(state: StateDir, config: AgentConfig) -> None:
    from crontopus.agent.checkin import CheckIn, SendResult, send_checkin
    from crontopus.agent.spool import Spool

    spool = Spool(
        state.spool, config.spool_max_entries, config.spool_max_bytes, config.spool_max_age
    )
    token = state.read_token()
    server = config.server
    if not spool.entries() or token is None or server is None:
        return

    def send(checkin: CheckIn) -> SendResult:
        return send_checkin(server, token, checkin, config.checkin_timeout)

    result = spool.drain(send)
    print(
        f"spool: delivered {result.delivered}, refused {result.refused}, {result.remaining} waiting"
    )


def status(state: StateDir, args: argparse.Namespace) -> int:
    """Show enrollment, the last sync and the spool."""
    from crontopus.agent.spool import Spool
    from crontopus.agent.sync import SyncState, effective_labels, load_server_labels

    config = load_config(state)
    saved = SyncState.load(state)
    spool = Spool(
        state.spool, config.spool_max_entries, config.spool_max_bytes, config.spool_max_age
    )
    drops = spool.drops()
    info: dict[str, Any] = {
        "stateDir": str(state.root),
        "enrolled": state.read_token() is not None,
        "server": config.server,
        "endpointId": config.endpoint_id,
        "name": config.name,
        "labels": effective_labels(state, config),
        "labelsFrom": "server" if load_server_labels(state) is not None else "config",
        "driver": config.driver,
        "appliedCommit": saved.commit,
        "appliedAt": saved.applied_at,
        "installedJobs": saved.jobs,
        "problems": list(saved.problems),
        "refused": list(saved.refused),
        "lastHeartbeatAt": state.read_heartbeat(),
        "spooledCheckIns": len(spool.entries()),
        "droppedCheckIns": drops.total,
        "droppedByReason": drops.counts,
        "lastDrop": drops.last,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    for key, value in info.items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"  - {item}")
        else:
            print(f"{key}: {human(value)}")
    return EXIT_OK


def drivers(state: StateDir, args: argparse.Namespace) -> int:
    """List the driver plugins, or convert a schedule with one of them."""
    if args.drivers_command == "convert":
        return convert(state, args)
    from crontopus.drivers import describe_drivers, get_plugin_manager

    rows: list[dict[str, Any]] = []
    for info in describe_drivers(get_plugin_manager()):
        availability = _availability(info.driver_class, state)
        rows.append(
            {
                "name": info.name,
                "plugin": info.plugin,
                "distribution": info.distribution,
                "version": info.version,
                "available": availability[0],
                "reason": availability[1],
                "hooks": list(info.hooks),
                "loadError": info.load_error,
                "shadowed": info.shadowed,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        mark = "available" if row["available"] else "unavailable"
        origin = (
            f"{row['distribution']} {row['version']}" if row["distribution"] else "unregistered"
        )
        print(f"{row['name']:<14} {mark:<12} {origin}  ({row['plugin']})")
        if row["reason"]:
            print(f"{'':14} {row['reason']}")
        if row["loadError"]:
            print(f"{'':14} error: {row['loadError']}")
    return EXIT_OK


def _availability(driver_class: Any, state: StateDir) -> tuple[bool, str]:
    from crontopus.drivers import DriverError

    try:
        driver = driver_class.from_options(_options_for(driver_class.name, state))
        result = driver.available()
    except (DriverError, TypeError, ConfigError) as exc:
        return False, str(exc)
    return result.ok, result.reason


def _options_for(name: str, state: StateDir) -> dict[str, str]:
    try:
        config = load_config(state)
    except ConfigError:
        return {}
    return dict(config.driver_options) if config.driver == name else {}


def convert(state: StateDir, args: argparse.Namespace) -> int:
    """Print a schedule's native form; exit 2 for an invalid schedule, 3 for a refusal.

    The schedule and zone are checked with crontopus.core before any driver sees them, so
    every driver answers a bad expression the same way (exit 2) and exit 3 always means "valid
    cron this scheduler cannot run". With --json every failure is `{"error": ...}` on stdout.
    """
    from crontopus.core.errors import ScheduleError
    from crontopus.core.schedule import parse_schedule
    from crontopus.core.timezones import timezone_problem
    from crontopus.drivers import DriverError, get_plugin_manager, load_drivers

    classes = load_drivers(get_plugin_manager())

    def fail(message: str, code: int) -> int:
        if args.json:
            print(json.dumps({"error": message}))
        else:
            print(f"crontopus-agent drivers convert: {message}", file=sys.stderr)
        return code

    if args.driver not in classes:
        known = ", ".join(sorted(classes)) or "none"
        return fail(f"driver {args.driver!r} is not installed (found: {known})", EXIT_USAGE)
    try:
        parse_schedule(args.schedule)
    except ScheduleError as exc:
        return fail(f"--schedule: {exc}", EXIT_USAGE)
    if args.timezone is not None and (problem := timezone_problem(args.timezone)) is not None:
        return fail(f"--timezone: {problem}", EXIT_USAGE)
    try:
        driver = classes[args.driver].from_options(_options_for(args.driver, state))
        native = driver.convert(args.schedule, args.timezone)
    except DriverError as exc:
        return fail(str(getattr(exc, "reason", exc)), EXIT_REFUSED)
    except CrontopusError as exc:  # a driver that raises something else still refuses alike
        return fail(str(exc), EXIT_REFUSED)
    if args.json:
        print(json.dumps(native.to_json()))
    else:
        for key, value in native.native.items():
            if isinstance(value, str) and "\n" in value:
                print(f"{key}:")
                print("  " + value.rstrip("\n").replace("\n", "\n  "))
            else:
                print(f"{key}: {human(value)}")
        print(native.figures.describe())
    return EXIT_OK


def run_job(state: StateDir, args: argparse.Namespace) -> int:
    """Run one job (normally reached through cli.py's fast path)."""
    import uuid

    from crontopus.agent.wrapper import run_job as wrap

    try:
        job_id = uuid.UUID(args.job_id)
    except ValueError:
        print(f"crontopus-agent run-job: {args.job_id!r} is not a job UUID", file=sys.stderr)
        return EXIT_USAGE
    return wrap(state, job_id, gate=args.gate)


def validate_config(state: StateDir, args: argparse.Namespace) -> int:
    """Check the config file, the environment overrides, the token and the driver."""
    from crontopus.agent.drivers import build_driver

    problems: list[str] = []
    try:
        config = load_config(state)
    except ConfigError as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_ERROR
    if not config.server:
        problems.append("server: not set: enroll first or set CRONTOPUS_AGENT_SERVER")
    if state.read_token() is None:
        problems.append(f"{state.token}: missing: run `crontopus-agent enroll`")
    elif sys.platform != "win32" and state.token.stat().st_mode & 0o077:
        problems.append(f"{state.token}: readable by others: chmod 600 {state.token}")
    try:
        driver = build_driver(config)
        availability = driver.available()
        if not availability.ok:
            problems.append(f"driver: {driver.name} is unavailable: {availability.reason}")
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        config.wrapper_path()
    except ConfigError as exc:
        problems.append(str(exc))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_ERROR
    print(f"{state.config}: ok")
    return EXIT_OK


def unenroll(state: StateDir, args: argparse.Namespace) -> int:
    """Leave the fleet: empty the scheduler, revoke the endpoint, forget the token."""
    from crontopus.agent.unenroll import unenroll as leave

    config = load_config(state)
    if not args.local_only:
        _drain_spool(state, config)  # runs already made still reach the server
    outcome = leave(state, config, keep_server=args.local_only)
    print(
        f"removed {outcome.removed_entries} scheduler entries from {config.driver or 'the driver'}"
    )
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if outcome.server_told:
        print(f"endpoint {config.endpoint_id} revoked on {config.server}")
    print(f"forgot the endpoint token in {state.root}")
    return EXIT_ERROR if outcome.warnings else EXIT_OK


def service(state: StateDir, args: argparse.Namespace) -> int:
    """Install, remove, start, stop or show the agent's service."""
    from crontopus.agent.service.command import service as act

    return act(state, args)
