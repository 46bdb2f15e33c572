"""Find driver plugins through entry points and collect the drivers they provide."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import ClassVar, cast
from uuid import UUID

import pluggy

from crontopus.drivers import hookspecs
from crontopus.drivers.contract import (
    Availability,
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    NativeSchedule,
)
from crontopus.drivers.errors import DriverUnavailable

ENTRY_POINT_GROUP = "crontopus.drivers"
_SHADOWED = (
    "another plugin registered earlier provides a driver with this name; this one is ignored"
)


@dataclass(frozen=True)
class DriverInfo:
    """One driver as found: its class, the plugin that provided it, and where that came from."""

    name: str
    driver_class: type[Driver]
    plugin: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    load_error: str | None = None
    shadowed: bool = False


def get_plugin_manager(load_entrypoints: bool = True) -> pluggy.PluginManager:
    """Build a plugin manager with the driver hookspecs, loading entry-point plugins if asked."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if load_entrypoints:
        load_entrypoint_plugins(pm)
    return pm


def load_entrypoint_plugins(pm: pluggy.PluginManager) -> list[str]:
    """Register every `crontopus.drivers` entry point; return the names that failed to load.

    A plugin that fails to import never crashes the host: it is registered as a stand-in
    whose driver reports itself unavailable with the import error as the reason.
    """
    failed: list[str] = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if pm.has_plugin(entry_point.name) or pm.is_blocked(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:  # any import failure is reported, never raised
            failed.append(entry_point.name)
            plugin = _BrokenPlugin(entry_point, exc)
        pm.register(plugin, name=entry_point.name)
    return failed


def load_drivers(pm: pluggy.PluginManager) -> dict[str, type[Driver]]:
    """Return the driver classes of all registered plugins, keyed by driver name."""
    return {info.name: info.driver_class for info in describe_drivers(pm) if not info.shadowed}


def describe_drivers(pm: pluggy.PluginManager) -> list[DriverInfo]:
    """List each driver with its plugin, distribution, version and implemented hooks.

    When two plugins provide the same driver name, the first registered wins and the other
    is listed with a load error, so `crontopus-agent drivers` shows the conflict.
    """
    found: list[DriverInfo] = []
    taken: set[str] = set()
    hook = pm.hook.crontopus_driver_classes
    # get_hookimpls() lists plugins in registration order (pluggy *calls* them newest first).
    for impl in hook.get_hookimpls():
        plugin_name = impl.plugin_name
        distribution, version = _distribution_of(plugin_name)
        hooks = _hooks_of(pm, impl.plugin)
        error: str | None = getattr(impl.plugin, "load_error", None)
        try:
            classes = list(cast(Iterable[type[Driver]], impl.function()))
        except Exception as exc:  # a plugin's bug is reported as its driver being unavailable
            error = f"plugin {plugin_name!r} failed in crontopus_driver_classes: {exc!r}"
            classes = [_unavailable_driver(plugin_name, error)]
        for driver_class in classes:
            shadowed = driver_class.name in taken
            taken.add(driver_class.name)
            found.append(
                DriverInfo(
                    name=driver_class.name,
                    driver_class=driver_class,
                    plugin=plugin_name,
                    distribution=distribution,
                    version=version,
                    hooks=hooks,
                    load_error=_SHADOWED if shadowed else error,
                    shadowed=shadowed,
                )
            )
    return found


def default_driver_name(pm: pluggy.PluginManager, platform: str = sys.platform) -> str | None:
    """Return the driver the plugins recommend for this platform, or None."""
    result: str | None = pm.hook.crontopus_default_driver(platform=platform)
    return result


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def _distribution_of(plugin_name: str) -> tuple[str | None, str | None]:
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=plugin_name):
        if entry_point.dist is not None:
            return entry_point.dist.name, entry_point.dist.version
    return None, None


class _BrokenPlugin:
    """Stands in for a plugin that failed to import, so the failure is listed, not raised."""

    def __init__(self, entry_point: EntryPoint, exc: BaseException) -> None:
        dist = entry_point.dist
        origin = f" from {dist.name} {dist.version}" if dist is not None else ""
        self.load_error = (
            f"plugin {entry_point.name!r} ({entry_point.value}{origin}) failed to load:"
            f" {type(exc).__name__}: {exc}"
        )
        self.driver_class = _unavailable_driver(entry_point.name, self.load_error)

    @hookspecs.hookimpl
    def crontopus_driver_classes(self) -> list[type[Driver]]:
        return [self.driver_class]


def _unavailable_driver(driver_name: str, reason: str) -> type[Driver]:
    class UnavailableDriver(Driver):
        name: ClassVar[str] = driver_name
        description: ClassVar[str] = "a plugin that failed to load"

        @classmethod
        def from_options(cls, options: Mapping[str, str]) -> UnavailableDriver:
            return cls()

        def available(self) -> Availability:
            return Availability.no(reason)

        def list_managed(self) -> dict[UUID, InstalledEntry]:
            raise DriverUnavailable(driver_name, reason)

        def list_foreign(self) -> list[ForeignEntry]:
            raise DriverUnavailable(driver_name, reason)

        def apply(self, entries: Sequence[DesiredEntry]) -> None:
            raise DriverUnavailable(driver_name, reason)

        def remove(self, ids: Iterable[UUID]) -> None:
            raise DriverUnavailable(driver_name, reason)

        def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
            raise DriverUnavailable(driver_name, reason)

    return UnavailableDriver
