"""`run`, `sync` and `run-job`: keeping the scheduler in step with Git, and running a job."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from crontopus.agent.config import AgentConfig, load_config
from crontopus.agent.statedir import StateDir

if TYPE_CHECKING:
    from crontopus.agent.sync import Syncer
    from crontopus.drivers import Driver

from crontopus.agent.commands.output import EXIT_OK, EXIT_USAGE, _setup_logging
from crontopus.agent.commands.parser import agent_version


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
