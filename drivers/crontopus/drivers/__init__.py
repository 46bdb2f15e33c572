"""Crontopus driver plugin API: hooks, the driver contract, and the plugin manager.

Plugins import `hookimpl` from here and register through the entry-point group
`crontopus.drivers`; see docs/drivers.md.
"""

from crontopus.drivers.contract import (
    Availability,
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    NativeSchedule,
    content_hash,
    foreign_fingerprint,
)
from crontopus.drivers.errors import (
    ConversionRefused,
    DriverError,
    DriverUnavailable,
    PermanentDriverError,
    RetryableDriverError,
)
from crontopus.drivers.hookspecs import hookimpl, hookspec
from crontopus.drivers.plugins import (
    ENTRY_POINT_GROUP,
    DriverInfo,
    default_driver_name,
    describe_drivers,
    get_plugin_manager,
    load_drivers,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Availability",
    "ConversionRefused",
    "DesiredEntry",
    "Driver",
    "DriverError",
    "DriverInfo",
    "DriverUnavailable",
    "ForeignEntry",
    "InstalledEntry",
    "NativeSchedule",
    "PermanentDriverError",
    "RetryableDriverError",
    "content_hash",
    "default_driver_name",
    "describe_drivers",
    "foreign_fingerprint",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "load_drivers",
]
