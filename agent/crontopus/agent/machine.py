"""Who this machine is: a hashed machine id, its hostname and platform."""

from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import sys
from pathlib import Path

# A fixed prefix keeps our hash unrelated to other programs' hashes of the same id, so
# the value sent to the server cannot be matched against theirs (machine-id(5) asks for this).
MACHINE_ID_PREFIX = b"crontopus-agent machine-id v1\x00"
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def raw_machine_id() -> str | None:
    """Return the operating system's machine id, or None when there is none."""
    for path in MACHINE_ID_FILES:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text
    readers = {"darwin": _macos_platform_uuid, "win32": _windows_machine_guid}
    reader = readers.get(sys.platform)
    return reader() if reader is not None else None


def machine_id() -> str:
    """Return the hashed machine id sent to the server (hostname when the OS has none)."""
    raw = raw_machine_id() or f"hostname:{socket.gethostname()}"
    return hashlib.sha256(MACHINE_ID_PREFIX + raw.encode("utf-8")).hexdigest()


def hostname() -> str:
    """Return this machine's host name."""
    return socket.gethostname()


def platform_name() -> str:
    """Return a short platform description, e.g. `linux x86_64`."""
    return f"{sys.platform} {platform.machine()}".strip()


def _macos_platform_uuid() -> str | None:
    try:
        out = subprocess.run(
            ["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "IOPlatformUUID" in line:
            return line.rsplit("=", 1)[-1].strip().strip('"') or None
    return None


def _windows_machine_guid() -> str | None:
    if sys.platform == "win32":
        import winreg

        try:
            key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography")
            value, _ = winreg.QueryValueEx(key, "MachineGuid")
        except OSError:
            return None
        return str(value)
    else:
        return None
