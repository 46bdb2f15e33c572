"""Pick and build the scheduler driver this agent uses."""

from __future__ import annotations

import sys

from crontopus.agent.config import ENV_PREFIX, AgentConfig
from crontopus.agent.errors import ConfigError
from crontopus.drivers import (
    Driver,
    DriverError,
    default_driver_name,
    get_plugin_manager,
    load_drivers,
)


def driver_name(config: AgentConfig) -> str:
    """Return the configured driver, or the plugins' default for this platform."""
    if config.driver:
        return config.driver
    name = default_driver_name(get_plugin_manager(), sys.platform)
    if name is None:
        raise ConfigError(
            f"driver: no plugin offers a default driver for {sys.platform}: set driver"
            f" (or {ENV_PREFIX}DRIVER); `crontopus-agent drivers` lists what is installed"
        )
    return name


def build_driver(config: AgentConfig) -> Driver:
    """Build the configured driver with its options; explain unknown names and bad options."""
    name = driver_name(config)
    classes = load_drivers(get_plugin_manager())
    if name not in classes:
        known = ", ".join(sorted(classes)) or "none"
        raise ConfigError(
            f"driver: {name!r} is not installed (found: {known}):"
            " install its plugin or pick another driver"
        )
    try:
        return classes[name].from_options(dict(config.driver_options))
    except DriverError as exc:
        raise ConfigError(f"driver_options: {exc}") from exc
    except TypeError as exc:
        raise ConfigError(f"driver_options: driver {name!r} does not accept them: {exc}") from exc
