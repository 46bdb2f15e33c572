"""The installer scripts, filled in with the address and agent version of the serving server."""

from __future__ import annotations

from importlib.resources import files

SERVER = "__CRONTOPUS_SERVER__"
AGENT_VERSION = "__CRONTOPUS_AGENT_VERSION__"


def _sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _powershell(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render(name: str, server: str, agent_version: str | None) -> str:
    """agent.sh or agent.ps1 for `server`, installing `agent_version` (None: there is none).

    The placeholders stand quoted in the templates; each value replaces the quotes too, quoted
    for the script's language, so no address (the Host header's, say) can add a command.
    """
    quote = _powershell if name.endswith(".ps1") else _sh
    template = files("crontopus.server.installers").joinpath(name).read_text(encoding="utf-8")
    return template.replace(f"'{SERVER}'", quote(server.rstrip("/"))).replace(
        f"'{AGENT_VERSION}'", quote(agent_version or "")
    )
