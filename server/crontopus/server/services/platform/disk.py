"""How much room things take on disk, measured off the event loop."""

from __future__ import annotations

import os
from pathlib import Path

import anyio.to_thread


def directory_bytes(path: Path) -> int:
    """The bytes of every regular file under `path` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while walking (a repack, a finished upload)
    return total


async def directory_bytes_off_loop(path: Path) -> int:
    """`directory_bytes` on a worker thread: a large store takes a while to walk."""
    return await anyio.to_thread.run_sync(directory_bytes, path)
