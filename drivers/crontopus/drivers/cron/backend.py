"""Where a crontab lives: the user's crontab through the `crontab` command, or a plain file.

Text crosses this seam as `str` decoded from UTF-8 with `surrogateescape`, so bytes that
are not UTF-8 survive a read and a write unchanged.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from crontopus.drivers.contract import Availability
from crontopus.drivers.errors import PermanentDriverError, RetryableDriverError

ENCODING = "utf-8"
ERRORS = "surrogateescape"
# crontab(1) answers quickly; a hang means a stuck NFS home or a PAM prompt.
COMMAND_TIMEOUT = 30.0


class CrontabBackend(Protocol):
    """Reads and replaces one whole crontab."""

    @property
    def user(self) -> str:
        """Return the user whose crontab this is."""
        ...

    def describe(self) -> str:
        """Name the crontab for messages (`crontab of alice`, `/tmp/crontab`)."""
        ...

    def available(self) -> Availability:
        """Say whether the crontab can be read and written here."""
        ...

    def read(self) -> str:
        """Return the crontab text; an absent crontab reads as ""."""
        ...

    def write(self, text: str) -> None:
        """Replace the crontab with `text` in one step."""
        ...


class FileCrontab:
    """A crontab kept in a file; writes go to a temp file renamed over it."""

    def __init__(self, path: str | os.PathLike[str], *, user: str | None = None) -> None:
        self.path = Path(path)
        self._user = user or getpass.getuser()

    @property
    def user(self) -> str:
        """Return the user named at construction (default: the invoking user)."""
        return self._user

    def describe(self) -> str:
        """Name the file."""
        return str(self.path)

    def available(self) -> Availability:
        """Say yes when the file's directory exists and is writable."""
        directory = self.path.parent
        if not directory.is_dir():
            return Availability.no(f"crontab file {self.path}: directory {directory} is missing")
        if not os.access(directory, os.W_OK):
            return Availability.no(f"crontab file {self.path}: directory is not writable")
        return Availability.yes(f"crontab file {self.path}")

    def read(self) -> str:
        """Return the file's text, or "" when it does not exist."""
        try:
            return self.path.read_bytes().decode(ENCODING, ERRORS)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise PermanentDriverError(f"crontab file {self.path}: cannot read: {exc}") from exc

    def write(self, text: str) -> None:
        """Write to a temp file in the same directory, fsync, and rename it over the file."""
        data = text.encode(ENCODING, ERRORS)
        try:
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise PermanentDriverError(f"crontab file {self.path}: cannot write: {exc}") from exc


class CommandCrontab:
    """The crontab of a user, read with `crontab -l` and installed with `crontab FILE`.

    `user=None` means the invoking user (no `-u`, which only root may pass).
    """

    def __init__(self, user: str | None = None, *, binary: str = "crontab") -> None:
        self._named_user = user
        self.binary = binary

    @property
    def user(self) -> str:
        """Return the named user, or the invoking user."""
        return self._named_user or getpass.getuser()

    def describe(self) -> str:
        """Name the user's crontab."""
        return f"crontab of {self.user}"

    def available(self) -> Availability:
        """Say yes when the crontab command exists and can list this user's crontab."""
        path = shutil.which(self.binary)
        if path is None:
            return Availability.no(
                f"the {self.binary!r} command is not on PATH: install cron (Debian: apt-get"
                " install cron; Fedora: dnf install cronie)"
            )
        try:
            self.read()
        except PermanentDriverError as exc:
            return Availability.no(str(exc))
        except RetryableDriverError as exc:
            return Availability.no(f"{exc} (transient)")
        return Availability.yes(f"{path} for user {self.user}")

    def read(self) -> str:
        """Run `crontab -l`; "no crontab for USER" reads as ""."""
        result = self._run(["-l"])
        if result.returncode == 0:
            return result.stdout.decode(ENCODING, ERRORS)
        message = result.stderr.decode(ENCODING, "replace").strip()
        if "no crontab for" in message:
            return ""
        raise PermanentDriverError(
            f"{self.describe()}: `crontab -l` failed (exit {result.returncode}): {message}"
        )

    def write(self, text: str) -> None:
        """Install `text` with `crontab FILE`; crontab(1) swaps the spool file atomically."""
        with tempfile.NamedTemporaryFile(prefix="crontopus-crontab.", delete=False) as handle:
            handle.write(text.encode(ENCODING, ERRORS))
            temp = handle.name
        try:
            result = self._run([temp])
        finally:
            Path(temp).unlink(missing_ok=True)
        if result.returncode != 0:
            message = result.stderr.decode(ENCODING, "replace").strip()
            raise PermanentDriverError(
                f"{self.describe()}: `crontab` refused the new crontab (exit"
                f" {result.returncode}): {message}"
            )

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        user = ["-u", self._named_user] if self._named_user is not None else []
        # Messages are matched in English ("no crontab for"), so pin the locale.
        env = {**os.environ, "LC_ALL": "C"}
        try:
            return subprocess.run(  # noqa: S603 - argv is fixed, no shell
                [self.binary, *user, *args],
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RetryableDriverError(
                f"{self.describe()}: `crontab` did not answer within {COMMAND_TIMEOUT:.0f} s"
            ) from exc
        except OSError as exc:
            raise PermanentDriverError(
                f"{self.describe()}: cannot run {self.binary!r}: {exc}"
            ) from exc
