"""Exclusive file locks on every platform: `flock` on POSIX, `msvcrt.locking` on Windows.

The standard library covers both, and the wrapper takes a lock on every run of a job that
forbids overlaps, so no third-party lock package (and its import time) sits on that path.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

RETRY = 0.05  # seconds between tries of a waiting lock on Windows, which cannot block on one


if sys.platform == "win32":
    import msvcrt

    def lock(fd: int, *, wait: bool) -> bool:
        """Lock an open file exclusively; return False when `wait` is off and another holds it."""
        # msvcrt locks a byte range from the current position: always the first byte, so every
        # process agrees on the range (a lock past the end of the file is allowed).
        while True:
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not wait:
                    return False
                time.sleep(RETRY)

    def release(fd: int) -> None:
        """Unlock and close a file locked with `lock`."""
        try:
            # Windows releases a lock on close only "eventually": unlock it now.
            os.lseek(fd, 0, os.SEEK_SET)
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)

else:
    import fcntl

    def lock(fd: int, *, wait: bool) -> bool:
        """Lock an open file exclusively; return False when `wait` is off and another holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def release(fd: int) -> None:
        """Unlock and close a file locked with `lock` (closing releases a flock)."""
        os.close(fd)
