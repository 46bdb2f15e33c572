"""`enroll` and `unenroll`: joining the server and leaving it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crontopus.agent.commands.output import EXIT_ERROR, EXIT_OK
from crontopus.agent.commands.parser import agent_version
from crontopus.agent.commands.scheduling import _drain_spool
from crontopus.agent.config import load_config, parse_label, save_config, with_updates
from crontopus.agent.errors import UsageError
from crontopus.agent.statedir import StateDir


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
