"""File locks: flock here, and the msvcrt path Windows takes, run against a stand-in msvcrt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from crontopus.agent.locks import lock, release

# Windows is the one boundary these tests cannot cross: this msvcrt keeps msvcrt.locking's
# contract (a byte range from the current position; LK_NBLCK raises OSError when it is held) on
# top of POSIX record locks, so the Windows code path runs for real between processes.
FAKE_MSVCRT = """
import fcntl, os
LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4
def locking(fd, mode, nbytes):
    start = os.lseek(fd, 0, os.SEEK_CUR)
    if mode == LK_UNLCK:
        fcntl.lockf(fd, fcntl.LOCK_UN, nbytes, start)
        return
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, nbytes, start)
    except BlockingIOError:
        raise PermissionError(13, "Permission denied") from None
"""

AS_WINDOWS = """
import sys
# The standard library's own platform branches stay POSIX: only the agent's are under test.
import subprocess, shutil, selectors, signal, socket, ssl, tempfile, uuid, platform  # noqa
import httpx, yaml, pygit2, pluggy  # noqa
sys.modules["msvcrt"] = __import__("fake_msvcrt")  # it holds its own fcntl
sys.platform = "win32"
sys.modules["fcntl"] = None  # importing fcntl now fails, as on Windows
"""


def windows_python(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    (tmp_path / "fake_msvcrt.py").write_text(FAKE_MSVCRT)
    script = AS_WINDOWS + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.getcwd()}"}
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_second_process_cannot_take_a_held_lock_and_takes_it_once_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.lock"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    assert lock(fd, wait=False)
    other = f"import fcntl, os; fd = os.open({str(path)!r}, os.O_WRONLY)\n" + (
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('took')\n"
        "except BlockingIOError:\n    print('held')\n"
    )
    probe = [sys.executable, "-c", other]
    assert subprocess.run(probe, capture_output=True, text=True).stdout == "held\n"
    release(fd)
    assert subprocess.run(probe, capture_output=True, text=True).stdout == "took\n"


def test_on_windows_the_agent_imports_without_fcntl_and_locks_through_msvcrt(
    tmp_path: Path,
) -> None:
    path = tmp_path / "job.lock"
    holder = windows_python(
        tmp_path,
        f"""
        import os
        import crontopus.agent.commands, crontopus.agent.spool, crontopus.agent.wrapper
        from crontopus.agent.locks import lock, release
        fd = os.open({str(path)!r}, os.O_WRONLY | os.O_CREAT)
        assert lock(fd, wait=False)
        print("locked", flush=True)
        input()  # hold the lock until the test says so
        release(fd)
        print("released", flush=True)
        """,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "locked\n"
    contender = windows_python(
        tmp_path,
        f"""
        import os
        from crontopus.agent.locks import lock
        fd = os.open({str(path)!r}, os.O_WRONLY)
        print(lock(fd, wait=False))
        """,
    )
    assert contender.communicate(timeout=30)[0] == "False\n"
    assert holder.communicate("\n", timeout=30)[0] == "released\n"
    waiter = windows_python(
        tmp_path,
        f"""
        import os
        from crontopus.agent.locks import lock, release
        fd = os.open({str(path)!r}, os.O_WRONLY)
        print(lock(fd, wait=True))
        release(fd)
        """,
    )
    assert waiter.communicate(timeout=30)[0] == "True\n"
