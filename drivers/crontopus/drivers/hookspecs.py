"""The hooks a Crontopus driver plugin may implement.

Every hook starts with `crontopus_`. Plugins implement them with the `hookimpl` marker
imported from `crontopus.drivers`, and are found through the entry-point group
`crontopus.drivers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from crontopus.drivers.contract import Driver

PROJECT_NAME = "crontopus"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def crontopus_driver_classes() -> list[type[Driver]]:  # type: ignore[empty-body]
    """Return the driver classes this plugin provides.

    Called once each time the host loads drivers (agent start, `crontopus-agent drivers`).
    Every plugin is called; the host gathers all classes and keys them by `Driver.name`.
    Return an empty list when the plugin provides none on this platform. Do no I/O here:
    availability is asked later through `Driver.available()`.
    """


@hookspec(firstresult=True)
def crontopus_default_driver(platform: str) -> str | None:
    """Return the name of the driver to use on `platform` when the agent config names none.

    Called when the agent starts without a configured driver; `platform` is `sys.platform`
    (`linux`, `darwin`, `win32`, ...). Stops at the first non-None result, so a plugin that
    only wants to be a fallback uses `@hookimpl(trylast=True)`, and one that wants to win
    uses `@hookimpl(tryfirst=True)`. Return None to express no opinion.
    """
