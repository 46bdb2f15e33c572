"""Pin the Crontopus distributions this one requires to its own version.

Every Crontopus distribution has the version in the repository's VERSION file; a requirement
written `crontopus-core=={version}` in `[tool.hatch.metadata.hooks.custom]` becomes
`crontopus-core==<that version>`, so pip can never combine, say, a new crontopus-agent with an
older crontopus-core. Each distribution carries its own copy of this file (an sdist builds on
its own); tests/test_release.py checks that the copies are the same.
"""

from __future__ import annotations

from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class PinnedRequirements(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        """Fill in `{version}` in the configured requirements and extras."""
        version = metadata["version"]
        if "dependencies" in self.config:
            metadata["dependencies"] = [
                requirement.format(version=version) for requirement in self.config["dependencies"]
            ]
        if "optional-dependencies" in self.config:
            metadata["optional-dependencies"] = {
                extra: [requirement.format(version=version) for requirement in requirements]
                for extra, requirements in self.config["optional-dependencies"].items()
            }
