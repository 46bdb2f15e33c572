"""Crontab text as a sequence of blocks: foreign lines kept byte for byte, managed entries.

A managed entry is written as::

    # crontopus:job=<uuid> hash=<content hash> name=<job name>
    CRON_TZ=<zone>                      (only when the job's zone needs it)
    <schedule> <command containing the job uuid>
    <schedule> <the same command>       (more lines only for a gated superset)

Everything else is a foreign line and is rendered back exactly as read (its line ending,
a carriage return, bytes that are not UTF-8). A marker whose entry line is gone or does
not name its job is stale: it is dropped on the next write, and the lines after it stay
foreign, so a hand-edited crontab never loses a foreign job to a leftover marker.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID

MARKER_PREFIX = "# crontopus:"
CRON_TZ = "CRON_TZ"
_MARKER = re.compile(
    r"# crontopus:job=(?P<id>[0-9a-fA-F-]{36}) hash=(?P<hash>\S+)(?: name=(?P<name>.*))?\r?"
)
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")
_ENVIRONMENT = re.compile(
    r"\s*(?P<name>\"[^\"]*\"|'[^']*'|[^\s=\"']+)\s*=\s*(?P<value>.*?)\s*", re.DOTALL
)
_MACRO_JOB = re.compile(r"\s*(?P<schedule>@[A-Za-z]+)\s+(?P<command>\S.*?)\s*", re.DOTALL)
_FIELDS_JOB = re.compile(
    r"\s*(?P<schedule>[0-9*]\S*(?:\s+\S+){4})\s+(?P<command>\S.*?)\s*", re.DOTALL
)


@dataclass(frozen=True)
class ForeignLine:
    """A line Crontopus did not write, kept exactly, with its line ending if it had one."""

    text: str


@dataclass(frozen=True)
class StaleMarker:
    """A marker line without its entry; dropped whenever the crontab is written."""

    text: str
    job_id: UUID


@dataclass(frozen=True)
class ManagedBlock:
    """A Crontopus entry: marker, optional environment lines, and the job line(s)."""

    job_id: UUID
    content_hash: str
    environment: tuple[str, ...]
    entry: str
    text: str


Block = ForeignLine | StaleMarker | ManagedBlock


@dataclass(frozen=True)
class JobLine:
    """The schedule and command of a cron job line."""

    schedule: str
    command: str


def split_lines(text: str) -> list[str]:
    """Split crontab text on newlines only, keeping each line's ending."""
    return _LINES.findall(text)


def strip_ending(line: str) -> str:
    """Return the line without its newline (a carriage return stays, as cron keeps it)."""
    return line[:-1] if line.endswith("\n") else line


def parse_job(line: str) -> JobLine | None:
    """Return the schedule and command of a cron job line, or None for any other line."""
    body = strip_ending(line)
    if is_comment_or_blank(body) or parse_environment(body) is not None:
        return None
    match = _MACRO_JOB.fullmatch(body) or _FIELDS_JOB.fullmatch(body)
    if match is None:
        return None
    return JobLine(match["schedule"], match["command"])


def parse_environment(line: str) -> tuple[str, str] | None:
    """Return (name, value) of a `NAME=value` line, or None when it is not one."""
    body = strip_ending(line)
    if is_comment_or_blank(body):
        return None
    match = _ENVIRONMENT.fullmatch(body)
    if match is None:
        return None
    return _unquote(match["name"]), _unquote(match["value"])


def is_comment_or_blank(line: str) -> bool:
    """Say whether cron skips this line (blank, or `#` after optional blanks)."""
    stripped = strip_ending(line).lstrip(" \t")
    return not stripped.strip() or stripped.startswith("#")


def parse_crontab(text: str) -> list[Block]:
    """Split crontab text into foreign lines, managed blocks and stale markers."""
    lines = split_lines(text)
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _MARKER.fullmatch(strip_ending(line)) if line.startswith(MARKER_PREFIX) else None
        if marker is None:
            blocks.append(ForeignLine(line))
            index += 1
            continue
        job_id = UUID(marker["id"])
        block, used = _managed_block_at(lines, index, job_id, marker["hash"])
        blocks.append(block)
        index += used
    return blocks


def render_crontab(blocks: Iterable[Block]) -> str:
    """Join blocks back into crontab text that ends with a newline (unless it is empty)."""
    parts: list[str] = []
    for block in blocks:
        if parts and not parts[-1].endswith("\n"):
            # A foreign last line without newline gains one: cron needs it before more lines.
            parts.append("\n")
        parts.append(block.text)
    if parts and not parts[-1].endswith("\n"):
        parts.append("\n")
    return "".join(parts)


def managed_block(
    job_id: UUID, content_hash: str, name: str, environment: tuple[str, ...], entry: str
) -> ManagedBlock:
    """Render a managed entry in its canonical form."""
    marker = f"{MARKER_PREFIX}job={job_id} hash={content_hash} name={marker_name(name)}"
    text = "".join(f"{line}\n" for line in (marker, *environment, entry))
    return ManagedBlock(job_id, content_hash, environment, entry, text)


def marker_name(name: str) -> str:
    """Make a job name safe for a one-line comment (control and separator characters escaped)."""
    return "".join(
        char.encode("unicode_escape").decode("ascii") if _unsafe_in_comment(char) else char
        for char in name
    )


def merge(
    blocks: Iterable[Block], desired: Mapping[UUID, ManagedBlock], removed: Iterable[UUID]
) -> list[Block]:
    """Replace, add and drop managed blocks; foreign lines keep their order and bytes.

    Blocks that set environment lines (CRON_TZ) go after everything else, because such a
    line changes every entry below it; at the end it only reaches other managed blocks,
    each of which sets its own.
    """
    gone = set(removed)
    seen: set[UUID] = set()
    kept: list[Block] = []
    for block in blocks:
        if isinstance(block, StaleMarker):
            continue
        if isinstance(block, ManagedBlock):
            if block.job_id in gone or block.job_id in seen:
                continue
            seen.add(block.job_id)
            kept.append(desired.get(block.job_id, block))
            continue
        kept.append(block)
    kept.extend(block for job_id, block in desired.items() if job_id not in seen)
    plain = [block for block in kept if not _sets_environment(block)]
    return plain + [block for block in kept if _sets_environment(block)]


def _managed_block_at(lines: list[str], start: int, job_id: UUID, digest: str) -> tuple[Block, int]:
    index = start + 1
    environment: list[str] = []
    while index < len(lines) and (parse_environment(lines[index]) or ("", ""))[0] == CRON_TZ:
        environment.append(strip_ending(lines[index]))
        index += 1
    first = index
    # A gated entry may need several schedule lines, each naming the job (see superset.py).
    while index < len(lines) and str(job_id) in lines[index] and parse_job(lines[index]):
        index += 1
    if index > first:
        text = "".join(lines[start:index])
        entry = "\n".join(strip_ending(line) for line in lines[first:index])
        return ManagedBlock(job_id, digest, tuple(environment), entry, text), index - start
    return StaleMarker(lines[start], job_id), 1


def _sets_environment(block: Block) -> bool:
    return isinstance(block, ManagedBlock) and bool(block.environment)


def _unsafe_in_comment(char: str) -> bool:
    return char == "\\" or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text
