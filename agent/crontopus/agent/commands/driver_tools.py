"""`drivers`: which scheduler drivers are here, and converting a schedule with one."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crontopus.agent.commands.output import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, human
from crontopus.agent.config import load_config
from crontopus.agent.errors import ConfigError
from crontopus.agent.statedir import StateDir
from crontopus.core.errors import CrontopusError


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
