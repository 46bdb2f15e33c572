"""Rendering Crontopus timer and service units, and reading timers back for discovery.

A managed pair is `crontopus-<uuid>.timer` + `crontopus-<uuid>.service`; both carry
`X-Crontopus-Job=<uuid>` in `[Unit]` (systemd ignores `X-` keys, so the marker costs nothing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

UNIT_PREFIX = "crontopus-"
MARKER_KEY = "X-Crontopus-Job"
HASH_KEY = "X-Crontopus-Hash"
HEADER = "# Managed by Crontopus: edits are overwritten on the next reconcile.\n"

# Characters that need no quoting in an ExecStart= word.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=@+,-]+")
# A prefix character on the executable changes how systemd runs it (`-`, `@`, `+`, `!`, `:`).
_EXEC_PREFIXES = "-@+!:"


def timer_name(job_id: UUID) -> str:
    """Return the timer unit's file name for a job."""
    return f"{UNIT_PREFIX}{job_id}.timer"


def service_name(job_id: UUID) -> str:
    """Return the service unit's file name for a job."""
    return f"{UNIT_PREFIX}{job_id}.service"


def escape_specifiers(text: str) -> str:
    """Escape `%` so systemd does not expand it as a unit specifier."""
    return text.replace("%", "%%")


def quote_word(word: str) -> str:
    """Quote one command-line word by systemd's rules (quotes, C escapes, `%` and `$`)."""
    if word and _PLAIN_WORD.fullmatch(word):
        return escape_specifiers(word)
    escaped = (
        word.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("%", "%%")
        .replace("$", "$$")
    )
    return f'"{escaped}"'


def exec_line(argv: Sequence[str]) -> str:
    """Render an argv as the value of `ExecStart=`, literal word for word."""
    if not argv:
        raise ValueError("ExecStart= needs a command: the argv is empty")
    executable = argv[0]
    if not executable.startswith("/"):
        raise ValueError(
            f"ExecStart= executable {executable!r} must be an absolute path so that systemd "
            "runs exactly that program"
        )
    if executable[0] in _EXEC_PREFIXES or "\n" in executable:
        raise ValueError(f"ExecStart= executable {executable!r} cannot be written literally")
    return " ".join(quote_word(word) for word in argv)


def _description(job_id: UUID, name: str | None) -> str:
    label = f"Crontopus job {name} ({job_id})" if name else f"Crontopus job {job_id}"
    return escape_specifiers(label.replace("\n", " "))


def render_timer(
    job_id: UUID,
    on_calendar: Sequence[str],
    *,
    name: str | None = None,
    content_hash: str | None = None,
) -> str:
    """Render the `.timer` unit: exact elapses, no catch-up, no random delay."""
    if not on_calendar:
        raise ValueError("a timer needs at least one OnCalendar= expression")
    calendar = "".join(f"OnCalendar={escape_specifiers(line)}\n" for line in on_calendar)
    digest = f"{HASH_KEY}={content_hash}\n" if content_hash else ""
    return (
        HEADER + "[Unit]\n"
        f"Description={_description(job_id, name)}\n"
        f"{MARKER_KEY}={job_id}\n"
        f"{digest}"
        "\n[Timer]\n"
        f"{calendar}"
        # The one-minute default lets the timer fire anywhere in that minute.
        "AccuracySec=1us\n"
        "RandomizedDelaySec=0\n"
        # Cron does not run missed jobs after downtime.
        "Persistent=false\n"
        f"Unit={service_name(job_id)}\n"
        "\n[Install]\n"
        "WantedBy=timers.target\n"
    )


def render_service(job_id: UUID, argv: Sequence[str], *, name: str | None = None) -> str:
    """Render the `.service` unit that runs the wrapper once per elapse."""
    return (
        HEADER + "[Unit]\n"
        f"Description={_description(job_id, name)}\n"
        f"{MARKER_KEY}={job_id}\n"
        "\n[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={exec_line(argv)}\n"
        # The wrapper enforces spec.timeout itself and reports it; systemd must not cut it.
        "TimeoutStartSec=infinity\n"
    )


@dataclass(frozen=True)
class TimerUnit:
    """What discovery reads from a timer unit file."""

    name: str
    on_calendar: tuple[str, ...]
    job_id: UUID | None
    unit: str | None  # the Unit= it starts, when set
    content_hash: str | None = None

    @property
    def managed(self) -> bool:
        """Tell whether Crontopus wrote this timer."""
        return self.job_id is not None


def parse_timer(name: str, text: str) -> TimerUnit:
    """Read a timer unit's `OnCalendar=` lines, `Unit=` and Crontopus marker."""
    section = ""
    on_calendar: list[str] = []
    job_id: UUID | None = None
    unit: str | None = None
    content_hash: str | None = None
    for key, value, current in _entries(text):
        section = current
        if section == "Timer" and key == "OnCalendar":
            # An empty assignment resets the list, as in systemd.
            on_calendar = [] if not value else [*on_calendar, value.replace("%%", "%")]
        elif section == "Timer" and key == "Unit":
            unit = value
        elif section == "Unit" and key == MARKER_KEY:
            try:
                job_id = UUID(value)
            except ValueError:
                job_id = None
        elif section == "Unit" and key == HASH_KEY:
            content_hash = value
    return TimerUnit(
        name=name,
        on_calendar=tuple(on_calendar),
        job_id=job_id,
        unit=unit,
        content_hash=content_hash,
    )


def parse_exec_start(text: str) -> str | None:
    """Return the first `ExecStart=` of a service unit as written, for discovery."""
    for key, value, section in _entries(text):
        if section == "Service" and key == "ExecStart" and value:
            return value.replace("%%", "%")
    return None


def _entries(text: str) -> list[tuple[str, str, str]]:
    entries: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\") and not line.startswith(("#", ";")):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep:
            entries.append((key.strip(), value.strip(), section))
    return entries
