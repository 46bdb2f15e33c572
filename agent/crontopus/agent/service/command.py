"""The `service` subcommand's arguments and handler."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from crontopus.agent.config import load_config
from crontopus.agent.errors import ConfigError
from crontopus.agent.service.definition import (
    MANAGERS,
    ServiceSpec,
    check_manager,
    default_manager,
)
from crontopus.agent.service.manage import Service
from crontopus.agent.statedir import StateDir

ACTIONS = ("install", "uninstall", "start", "stop", "status")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `service ACTION` and its options."""
    service = commands.add_parser(
        "service", help="install, remove, start, stop or show the agent's service"
    )
    service.add_argument("action", choices=ACTIONS)
    service.add_argument(
        "--manager",
        help=f"the service manager: {', '.join(MANAGERS)} (default: this platform's,"
        f" {default_manager()})",
    )
    service.add_argument(
        "--user",
        action="store_true",
        help="a per-user service (systemd --user unit, launchd LaunchAgent) instead of a"
        " system one",
    )
    service.add_argument(
        "--root",
        metavar="DIR",
        help="write the files below DIR (a staging tree or image) and start nothing",
    )
    service.add_argument(
        "--executable",
        metavar="PATH",
        help="the crontopus-agent program the service runs (default: this installation's)",
    )
    service.add_argument(
        "--no-start", action="store_true", help="install without starting the service now"
    )


def _executable(state: StateDir, option: str | None) -> str:
    if option:
        return str(Path(option).absolute())
    if sys.platform == "win32":
        beside = Path(sys.executable).parent / "crontopus-agent.exe"
        if beside.exists():
            return str(beside)
    try:
        return load_config(state).wrapper_path()
    except ConfigError as exc:
        raise ConfigError(f"{exc}; or pass --executable") from None


def build_service(state: StateDir, args: argparse.Namespace) -> Service:
    """Build the service the options describe."""
    manager = check_manager(args.manager or default_manager())
    spec = ServiceSpec(
        executable=_executable(state, args.executable),
        state_dir=state.root,
        user=args.user,
        home=Path.home(),
        uid=os.getuid() if hasattr(os, "getuid") else None,
    )
    return Service(manager, spec, Path(args.root).absolute() if args.root else None)


def service(state: StateDir, args: argparse.Namespace) -> int:
    """Run one service action."""
    built = build_service(state, args)
    code = 0
    if args.action == "install":
        start = not args.no_start and built.root is None
        if start and state.read_token() is None:
            print(
                f"warning: {state.root} is not enrolled: installed without starting; run"
                " `crontopus-agent enroll`, then `crontopus-agent service start`",
                file=sys.stderr,
            )
            start = False
        built.install(start=start)
    elif args.action == "uninstall":
        built.uninstall()
    elif args.action == "start":
        built.start()
    elif args.action == "stop":
        built.stop()
    else:
        code = built.status()
    for line in built.log:
        print(line)
    return code
