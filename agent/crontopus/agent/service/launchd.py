"""The launchd property list of the agent daemon (a LaunchDaemon, or a LaunchAgent with --user)."""

from __future__ import annotations

import plistlib
from pathlib import PurePosixPath

from crontopus.agent.service.definition import LAUNCHD_LABEL, ServiceFile, ServiceSpec

LOG_DIR = PurePosixPath("/Library/Logs/crontopus-agent")


def plist_path(spec: ServiceSpec) -> PurePosixPath:
    """Return where the property list lives."""
    if spec.user:
        if spec.home is None:
            raise ValueError("a --user LaunchAgent needs the user's home directory")
        return PurePosixPath(spec.home) / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    return PurePosixPath("/Library/LaunchDaemons") / f"{LAUNCHD_LABEL}.plist"


def log_dir(spec: ServiceSpec) -> PurePosixPath:
    """Return the directory of the daemon's output."""
    if spec.user and spec.home is not None:
        return PurePosixPath(spec.home) / "Library" / "Logs" / "crontopus-agent"
    return LOG_DIR


def render_plist(spec: ServiceSpec) -> bytes:
    """Render the property list (XML)."""
    logs = log_dir(spec)
    document = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": spec.arguments(),
        "RunAtLoad": True,
        # Restart after a crash, not after a clean exit (a clean exit is someone's `stop`).
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 5,
        "ExitTimeOut": 60,
        "ProcessType": "Background",
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": str(logs / "agent.log"),
        "StandardErrorPath": str(logs / "agent.log"),
    }
    return plistlib.dumps(document, fmt=plistlib.FMT_XML)


def files(spec: ServiceSpec) -> list[ServiceFile]:
    """Return the files the daemon needs."""
    return [ServiceFile(plist_path(spec), render_plist(spec))]


def _domain(spec: ServiceSpec) -> str:
    return f"gui/{spec.uid}" if spec.user else "system"


def commands(spec: ServiceSpec, action: str) -> list[list[str]]:
    """Return the launchctl command lines of an action."""
    domain = _domain(spec)
    target = f"{domain}/{LAUNCHD_LABEL}"
    return {
        "register": [["launchctl", "enable", target]],
        "start": [["launchctl", "bootstrap", domain, str(plist_path(spec))]],
        "stop": [["launchctl", "bootout", target]],
        "status": [["launchctl", "print", target]],
        "unregister": [["launchctl", "disable", target]],
        "forget": [],
    }[action]
