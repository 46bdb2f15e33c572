"""Put the built web console (web/dist) into the crontopus-server wheel as crontopus/server/static.

A hook rather than a plain force-include, so the editable install a developer makes before
building the console still works (the server then finds web/dist in the source tree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ConsoleAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the console's assets to a regular wheel; warn when they were not built."""
        if self.target_name != "wheel" or version == "editable":
            return
        dist = Path(self.root).parent / "web" / "dist"
        if (dist / "index.html").is_file():
            build_data["force_include"][str(dist)] = "crontopus/server/static"
        else:
            self.app.display_warning(
                "web/dist is missing: this wheel has no web console "
                "(build it first: npm --prefix web ci && npm --prefix web run build)"
            )
