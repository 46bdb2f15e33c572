"""Registers the cron driver; loaded through the `crontopus.drivers` entry point `cron`."""

from __future__ import annotations

from crontopus.drivers.contract import Driver
from crontopus.drivers.cron.driver import CronDriver
from crontopus.drivers.hookspecs import hookimpl

# Platforms whose usual scheduler is a Vixie-style cron with a crontab(1) command.
_CRON_PLATFORMS = ("linux", "darwin", "freebsd", "openbsd", "netbsd", "sunos")


@hookimpl
def crontopus_driver_classes() -> list[type[Driver]]:
    """Provide the cron driver."""
    return [CronDriver]


@hookimpl(trylast=True)
def crontopus_default_driver(platform: str) -> str | None:
    """Recommend cron on Unix-like platforms, as a fallback any other plugin may override."""
    return CronDriver.name if platform.startswith(_CRON_PLATFORMS) else None
