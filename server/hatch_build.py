"""Put what the server serves besides its code into the crontopus-server sdist and wheel.

Inside the crontopus.server package they become:
- `migrations/`: the Alembic scripts (the repository's migrations/);
- `static/`: the built web console (web/dist);
- `agent_wheels/`: the wheels of crontopus-core, crontopus-drivers and crontopus-agent of this
  same version, which the server offers agents at /install/simple/ (built first by `make dist`
  into dist/, or found in $CRONTOPUS_AGENT_WHEELS).

The sdist carries them at those places too, so a wheel built from the sdist (as `python -m
build` does) needs nothing outside it. A hook rather than plain force-includes, so the editable
install a developer makes before building the console still works (the server then finds
web/dist, migrations/ and dist/ in the source tree).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "crontopus/server"
AGENT_DISTRIBUTIONS = ("crontopus_core", "crontopus_drivers", "crontopus_agent")


class ServerAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the migrations, the console and the agent's wheels when building from source."""
        if version == "editable":
            return
        root = Path(self.root)
        if (root / PACKAGE / "migrations" / "env.py").is_file():
            return  # building the wheel from an sdist: everything is in the package already
        include = build_data.setdefault("force_include", {})
        repository = root.parent
        include[str(repository / "migrations")] = f"{PACKAGE}/migrations"
        console = repository / "web" / "dist"
        if (console / "index.html").is_file():
            include[str(console)] = f"{PACKAGE}/static"
        else:
            self.app.display_warning(
                "web/dist is missing: this build has no web console "
                "(build it first: make web, or npm --prefix web ci && npm --prefix web run build)"
            )
        wheels = self._agent_wheels(repository)
        for wheel in wheels:
            include[str(wheel)] = f"{PACKAGE}/agent_wheels/{wheel.name}"
        if len(wheels) < len(AGENT_DISTRIBUTIONS):
            self.app.display_warning(
                f"the agent's wheels of version {self.metadata.version} are missing: this build "
                "cannot install agents (build them first: make dist)"
            )

    def _agent_wheels(self, repository: Path) -> list[Path]:
        """The agent's wheels of this very version, from $CRONTOPUS_AGENT_WHEELS or dist/."""
        directory = Path(os.environ.get("CRONTOPUS_AGENT_WHEELS") or repository / "dist")
        version = self.metadata.version
        found = []
        for name in AGENT_DISTRIBUTIONS:
            found.extend(sorted(directory.glob(f"{name}-{version}-*.whl")))
        return found
