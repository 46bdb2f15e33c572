"""The systemd unit of the agent daemon (a system unit, or a `--user` unit)."""

from __future__ import annotations

from pathlib import PurePosixPath

from crontopus.agent.service.definition import SERVICE_NAME, ServiceFile, ServiceSpec

UNIT = f"{SERVICE_NAME}.service"
SYSTEM_UNIT_DIR = PurePosixPath("/etc/systemd/system")


def _quote(word: str) -> str:
    # systemd splits ExecStart= like a shell but expands % specifiers and $ variables itself.
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if any(c in word for c in " \t\"\\'") or not word else escaped


def unit_path(spec: ServiceSpec) -> PurePosixPath:
    """Return where the unit file lives."""
    if spec.user:
        if spec.home is None:
            raise ValueError("a --user unit needs the user's home directory")
        return PurePosixPath(spec.home) / ".config" / "systemd" / "user" / UNIT
    return SYSTEM_UNIT_DIR / UNIT


def render_unit(spec: ServiceSpec) -> str:
    """Render the unit file text."""
    exec_start = " ".join(_quote(word) for word in spec.arguments())
    hardening = (
        ""
        if spec.user
        # The daemon rewrites crontabs and unit files system-wide, so the file system stays
        # writable; what it never needs is to gain privileges it was not started with.
        else ("NoNewPrivileges=yes\nPrivateTmp=yes\n")
    )
    return (
        "# Written by `crontopus-agent service install`; `service uninstall` removes it.\n"
        "[Unit]\n"
        "Description=Crontopus agent\n"
        "Documentation=https://github.com/crontopus/crontopus/blob/main/docs/agent.md\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        f"ExecStart={exec_start}\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        # SIGTERM ends the loop after the step in progress; a crontab is never half written.
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=60\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        f"{hardening}"
        "\n"
        "[Install]\n"
        f"WantedBy={'default.target' if spec.user else 'multi-user.target'}\n"
    )


def files(spec: ServiceSpec) -> list[ServiceFile]:
    """Return the files the unit needs."""
    return [ServiceFile(unit_path(spec), render_unit(spec).encode())]


def commands(spec: ServiceSpec, action: str) -> list[list[str]]:
    """Return the systemctl command lines of an action."""
    base = ["systemctl", "--user"] if spec.user else ["systemctl"]
    return {
        "register": [[*base, "daemon-reload"], [*base, "enable", UNIT]],
        "start": [[*base, "restart", UNIT]],
        "stop": [[*base, "stop", UNIT]],
        "status": [[*base, "status", "--no-pager", UNIT]],
        "unregister": [[*base, "disable", UNIT]],
        "forget": [[*base, "daemon-reload"]],
    }[action]
