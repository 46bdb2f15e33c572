"""Tables, colour only on a terminal, and the JSON printers."""

from __future__ import annotations

import argparse
import io

from crontopus.cli.invocation import Invocation
from crontopus.cli.output import column, listing, short_time


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def invocation(out: io.StringIO, env: dict[str, str] | None = None, **args: object) -> Invocation:
    return Invocation(argparse.Namespace(**args), env or {}, out=out, err=io.StringIO())


ROWS = [{"name": "a", "status": "SUCCESS"}, {"name": "bb", "status": "FAILURE"}]
COLUMNS = [column("NAME", "name"), column("STATUS", "status", coloured=True)]


def test_a_table_aligns_columns_without_colour_off_a_terminal() -> None:
    out = io.StringIO()
    listing(invocation(out), COLUMNS, ROWS)
    assert out.getvalue() == "NAME  STATUS\na     SUCCESS\nbb    FAILURE\n"


def test_states_are_coloured_on_a_terminal_unless_no_color() -> None:
    out = Terminal()
    listing(invocation(out), COLUMNS, ROWS)
    assert "\x1b[32mSUCCESS" in out.getvalue()
    assert "\x1b[31mFAILURE" in out.getvalue()
    for env, args in (({"NO_COLOR": "1"}, {}), ({}, {"no_color": True})):
        plain = Terminal()
        listing(invocation(plain, env, **args), COLUMNS, ROWS)
        assert "\x1b[" not in plain.getvalue()


def test_json_keeps_the_api_field_names() -> None:
    out = io.StringIO()
    listing(invocation(out, json=True), COLUMNS, ROWS)
    assert out.getvalue().startswith('[\n  {\n    "name": "a",')


def test_times_are_shortened_to_seconds_with_their_zone() -> None:
    assert short_time("2026-01-31T14:05:09.123456+00:00") == "2026-01-31 14:05:09Z"
    assert short_time("2026-01-31T14:05:09+01:00") == "2026-01-31 14:05:09+01:00"
    assert short_time(None) == "-"
