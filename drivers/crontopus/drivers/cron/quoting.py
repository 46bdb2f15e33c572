"""Render an argv as a crontab command that cron hands to /bin/sh literally.

Cron reads a command before the shell does: an unescaped `%` ends the command (the rest
becomes stdin) and `\\%` stands for a literal `%`. Backslashes differ between crons:
Debian's cron also turns `\\\\` into `\\` (checked against its daemon), while cronie and
upstream Vixie cron keep `\\\\` as it is. Both keep a backslash followed by anything else.
So a literal backslash is always written as `\\''`: it ends its single-quoted piece and an
empty `''` follows, the shell still sees one word, and no cron ever sees `\\\\` or a
backslash before a `%` it did not mean as an escape.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from crontopus.drivers.errors import PermanentDriverError

# Vixie cron (Debian) and cronie truncate commands at about 1000 bytes (MAX_COMMAND).
MAX_COMMAND_BYTES = 999


def render_command(argv: Sequence[str]) -> str:
    """Return the crontab command text that makes cron run `argv` exactly."""
    if not argv:
        raise PermanentDriverError("command: the argv is empty; give the wrapper's path first")
    for index, arg in enumerate(argv):
        bad = next((char for char in arg if _is_forbidden(char)), None)
        if bad is not None:
            raise PermanentDriverError(
                f"command: argument {index} {arg!r} contains {bad!r}; a crontab line cannot"
                " carry line breaks or control characters: pass such values through the job's"
                " config file instead"
            )
    # shlex.quote leaves only [\w@%+=:,./-] unquoted, so every backslash is inside '...'.
    shell = " ".join(shlex.quote(arg) for arg in argv)
    shell = shell.replace("\\", "\\''")
    text = shell.replace("%", "\\%")
    if text.startswith("*"):
        # cronie rejects a command starting with "*"; quote() never produces one, but be sure.
        raise PermanentDriverError(f"command: {argv[0]!r} must not start with '*'")
    if len(text.encode("utf-8", "surrogateescape")) > MAX_COMMAND_BYTES:
        raise PermanentDriverError(
            f"command: {len(text)} characters once quoted; cron truncates commands past"
            f" {MAX_COMMAND_BYTES} bytes: use a shorter state directory path"
        )
    return text


def _is_forbidden(char: str) -> bool:
    # Tabs are fine inside quotes; every other control character breaks or alters the line.
    return char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F)
