"""The installer scripts, filled in with the address and agent version of the serving server."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

from crontopus.server.installers.wheels import Wheel

SERVER = "__CRONTOPUS_SERVER__"
AGENT_VERSION = "__CRONTOPUS_AGENT_VERSION__"
AGENT_WHEELS = "__CRONTOPUS_AGENT_WHEELS__"


def _sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _powershell(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render(name: str, server: str, release: Sequence[Wheel]) -> str:
    """agent.sh or agent.ps1 for `server`, installing the wheels of `release` (may be none).

    The placeholders stand quoted in the templates; each value replaces the quotes too, quoted
    for the script's language, so no address (the Host header's, say) can add a command.
    """
    quote = _powershell if name.endswith(".ps1") else _sh
    version = next((w.version for w in release if w.project == "crontopus-agent"), "")
    wheels = " ".join(f"{wheel.filename}#sha256={wheel.sha256}" for wheel in release)
    template = files("crontopus.server.installers").joinpath(name).read_text(encoding="utf-8")
    for placeholder, value in (
        (SERVER, server.rstrip("/")),
        (AGENT_VERSION, version),
        (AGENT_WHEELS, wheels),
    ):
        template = template.replace(f"'{placeholder}'", quote(value))
    return template
