"""`status` and `validate-config`: what the agent holds and whether its configuration is sound."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crontopus.agent.commands.output import EXIT_ERROR, EXIT_OK, human
from crontopus.agent.config import load_config
from crontopus.agent.errors import ConfigError
from crontopus.agent.statedir import StateDir


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
