"""Helpers shared by the test packages."""

from __future__ import annotations

import contextlib
import errno
import os
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
