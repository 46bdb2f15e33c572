"""Tables for people, JSON for scripts, colour only on a terminal."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crontopus.cli.invocation import Invocation

GREEN = "32"
RED = "31"
YELLOW = "33"
DIM = "2"
BOLD = "1"

# What a word in a status column means at a glance.
STATE_COLOURS: dict[str, str] = {
    "SUCCESS": GREEN,
    "HEALTHY": GREEN,
    "ONLINE": GREEN,
    "FAILURE": RED,
    "TIMEOUT": RED,
    "MISSED": RED,
    "FAILING": RED,
    "OFFLINE": RED,
    "REVOKED": DIM,
    "revoked": DIM,
    "RUNNING": YELLOW,
    "UP": GREEN,
    "LATE": YELLOW,
    "DOWN": RED,
    "STUCK": RED,
    "NEW": DIM,
    "PAUSED": DIM,
    "DEGRADED": YELLOW,
    "UNKNOWN": DIM,
}


@dataclass(frozen=True)
class Column:
    """One table column: its header and how to get the cell text from a row."""

    header: str
    cell: Callable[[Mapping[str, Any]], object]
    coloured: bool = False


def token_state(token: Mapping[str, Any]) -> str:
    """Say in one lowercase word whether a token still works."""
    return "revoked" if token.get("revokedAt") else "active"


def column(header: str, key: str, *, coloured: bool = False) -> Column:
    """Return a column showing `row[key]`."""
    return Column(header, lambda row: row.get(key), coloured)


def paint(text: str, code: str, enabled: bool) -> str:
    """Wrap `text` in an ANSI colour when enabled."""
    return f"\x1b[{code}m{text}\x1b[0m" if enabled and code else text


def cell_text(value: object) -> str:
    """Render one value for a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(cell_text(item) for item in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def short_time(value: object) -> str:
    """Render an ISO time as `YYYY-MM-DD HH:MM:SS` (seconds precision, zone kept)."""
    if not isinstance(value, str) or len(value) < 19:
        return cell_text(value)
    text = value.replace("T", " ")
    zone = ""
    if text.endswith("+00:00") or text.endswith("Z"):
        zone = "Z"
    elif len(text) > 19 and text[-6] in "+-":
        zone = text[-6:]
    return text[:19] + zone


def table(inv: Invocation, columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> None:
    """Print rows as an aligned table (no rows: a short note on stderr)."""
    if not rows:
        print("(none)", file=inv.err)
        return
    cells = [[cell_text(c.cell(row)) for c in columns] for row in rows]
    widths = [max(len(c.header), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    colour = inv.colour
    header = "  ".join(c.header.ljust(w) for c, w in zip(columns, widths, strict=True))
    print(paint(header.rstrip(), BOLD, colour), file=inv.out)
    for line in cells:
        parts = []
        for c, w, text in zip(columns, widths, line, strict=True):
            padded = text.ljust(w)
            parts.append(paint(padded, STATE_COLOURS.get(text, ""), colour and c.coloured))
        print("  ".join(parts).rstrip(), file=inv.out)


def section(
    inv: Invocation, title: str, columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Print a titled table inside a `show` page ("(none)" when empty)."""
    print(f"\n{title}:", file=inv.out)
    if rows:
        table(inv, columns, rows)
    else:
        print("  (none)", file=inv.out)


def failure_reasons(
    inv: Invocation, rows: Sequence[Mapping[str, Any]], label: Callable[[Mapping[str, Any]], str]
) -> None:
    """Print, below a table, why each FAILED row failed (the agent's driver said so)."""
    failed = [row for row in rows if row.get("failureReason")]
    if not failed:
        return
    print("\nWhy not installed:", file=inv.out)
    for row in failed:
        print(f"  {label(row)}: {row['failureReason']}", file=inv.out)


def fields(inv: Invocation, pairs: Sequence[tuple[str, object]]) -> None:
    """Print `label: value` lines, labels aligned."""
    width = max(len(label) for label, _ in pairs)
    for label, value in pairs:
        text = cell_text(value)
        text = paint(text, STATE_COLOURS.get(text, ""), inv.colour)
        print(f"{label + ':':<{width + 1}} {text}", file=inv.out)


def dump_json(inv: Invocation, data: object) -> None:
    """Print data as indented JSON, keys in the order the API gives them."""
    print(json.dumps(data, indent=2, ensure_ascii=False), file=inv.out)


def dump_json_line(inv: Invocation, data: object) -> None:
    """Print data as one JSON line (for streams such as `runs watch --json`)."""
    print(json.dumps(data, ensure_ascii=False), file=inv.out, flush=True)


def listing(inv: Invocation, columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> None:
    """Print a listing: a JSON array with --json, else a table."""
    if inv.json:
        dump_json(inv, list(rows))
    else:
        table(inv, columns, rows)


def key_values(items: Sequence[Mapping[str, str]] | None) -> str:
    """Render `[{key, value}]` as `k=v,k2=v2`."""
    return ",".join(f"{item['key']}={item['value']}" for item in items or []) or "-"


def note(inv: Invocation, message: str) -> None:
    """Print a remark for people on stderr (stdout stays for data)."""
    print(message, file=inv.err, flush=True)
