"""Registers the systemd driver; loaded through the `crontopus.drivers` entry point `systemd`."""

from __future__ import annotations

from crontopus.drivers.contract import Driver
from crontopus.drivers.hookspecs import hookimpl
from crontopus.drivers.systemd.driver import SystemdDriver


@hookimpl
def crontopus_driver_classes() -> list[type[Driver]]:
    """Provide the systemd timers driver (chosen by configuration, never by default)."""
    return [SystemdDriver]
