"""Helpers shared by the test packages."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

POSTGRES_URL_VARIABLE = "CRONTOPUS_TEST_POSTGRES_URL"
MACHINE_VARIABLE = "CRONTOPUS_TEST_MACHINE"


def postgres_url() -> str | None:
    """The PostgreSQL server the suite may create databases on, if any."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `path` for the block; unmount it after, whatever happened."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                   check=True)  # fmt: skip
    try:
        yield path
    finally:
        result = subprocess.run(["umount", str(path)], check=False, capture_output=True)
        if result.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a file in `directory` until its filesystem is full; return it (unlink to free)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 512, 1):  # then the last bytes a chunk left
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


@contextlib.contextmanager
def throwaway_user() -> Iterator[str]:
    """Create a user without a home for the block; delete it and its crontab afterwards.

    The caller checks `can_make_users()` first (root, crontab(1) and useradd).
    """
    name = f"ctp{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["crontab", "-u", name, "-r"], capture_output=True, check=False)
        subprocess.run(["userdel", name], check=True)


def can_make_users() -> bool:
    """Whether this process may create throwaway users with crontabs."""
    needed = ("crontab", "useradd", "userdel")
    return os.geteuid() == 0 and all(shutil.which(tool) is not None for tool in needed)


def cron_command(line_command: str, *, debian: bool) -> tuple[str, str | None]:
    """Split a crontab command as cron's do_command does: `\\%` is `%`, a bare `%` ends it.

    Every cron drops the backslash of `\\%`; Debian's also drops the first of `\\\\` (seen
    on its daemon, see tests/drivers/cron/test_quoting.py); any other backslash is kept with the
    character after it. Text after the first bare `%` becomes the job's stdin.
    """
    unescapes = "%\\" if debian else "%"
    out: list[str] = []
    escaped = False
    for index, char in enumerate(line_command):
        if escaped:
            if char in unescapes:
                out[-1] = char
            else:
                out.append(char)
            escaped = False
        elif char == "%":
            return "".join(out), line_command[index + 1 :]
        else:
            out.append(char)
            escaped = char == "\\"
    return "".join(out), None
