"""What this machine's cron can do and which time zone it runs in."""

from __future__ import annotations

import os
import shutil
import subprocess
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

LOCALTIME = Path("/etc/localtime")
TIMEZONE_FILE = Path("/etc/timezone")


@dataclass(frozen=True)
class CronTzSupport:
    """Whether the installed cron honours `CRON_TZ=`, and what that was concluded from."""

    supported: bool
    evidence: str


def detect_cron_tz_support(
    binaries: tuple[str, ...] = ("crontab", "crond", "cron"),
) -> CronTzSupport:
    """Ask the installed cron for its version; only cronie is known to honour CRON_TZ.

    Debian's cron 3.0pl1 does not document CRON_TZ (and rejects `-V`); Vixie-derived crons
    without it would silently run the entry in the machine's zone, so anything that does
    not identify itself as cronie counts as unsupported.
    """
    for binary in binaries:
        path = shutil.which(binary)
        if path is None:
            continue
        try:
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [path, "-V"],
                capture_output=True,
                timeout=10,
                check=False,
                env={**os.environ, "LC_ALL": "C"},
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        output = (result.stdout + result.stderr).decode("utf-8", "replace").strip()
        if "cronie" in output.lower():
            return CronTzSupport(True, f"{path} -V says {output.splitlines()[0]!r}")
    return CronTzSupport(
        False,
        "the installed cron is not cronie (Debian's cron 3.0pl1 does not support CRON_TZ)",
    )


def machine_timezone(
    localtime: Path = LOCALTIME, timezone_file: Path = TIMEZONE_FILE
) -> str | None:
    """Return the IANA name of the zone cron runs in, or None when it cannot be named."""
    if localtime.is_symlink():
        # The link's own target is the configured name; resolving further would turn
        # an alias such as UTC into Etc/UTC.
        target = os.readlink(localtime)
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    try:
        name = timezone_file.read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    if name:
        return name
    # glibc runs in UTC when /etc/localtime is absent.
    return None if localtime.exists() else "UTC"


def same_zone(first: str, second: str) -> bool:
    """Say whether two zone names denote the same rules (aliases such as UTC and Etc/UTC)."""
    if first == second:
        return True
    first_file, second_file = _zone_file(first), _zone_file(second)
    if first_file is None or second_file is None:
        return False
    return first_file.read_bytes() == second_file.read_bytes()


def _zone_file(name: str) -> Path | None:
    if name.startswith("/") or ".." in name.split("/"):
        return None
    for directory in zoneinfo.TZPATH:
        candidate = Path(directory, name)
        if candidate.is_file():
            return candidate
    return None
