"""Crontab text as blocks: foreign bytes round-trip exactly; markers delimit managed entries."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from crontopus.drivers.cron.crontab import (
    ForeignLine,
    ManagedBlock,
    StaleMarker,
    managed_block,
    marker_name,
    merge,
    parse_crontab,
    parse_environment,
    parse_job,
    render_crontab,
)

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
LINE = f"0 2 * * * /usr/bin/crontopus-agent run-job {JOB}"
FOREIGN = (
    "# m h dom mon dow command — édité\n"
    "SHELL=/bin/bash\n"
    'MAILTO = "ops@example.com"\n'
    "\n"
    "  # indented comment\n"
    "*/10 * * * * /usr/bin/foreign --flag 'quoted \\%' stuff\n"
    "@daily /usr/bin/nightly\r\n"
    "\t\n"
    "# crontopus:not-a-marker\n"
    "0 5 * * 1-5 echo \udcff latin-1 byte\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        FOREIGN,
        FOREIGN + "30 6 * * * no newline at the end",
        "only\r\ncarriage\r\nreturns\r\n",
        "# crontopus:job=not-a-uuid hash=1\n* * * * * x\n",
    ],
)
def test_foreign_text_round_trips_byte_for_byte(text: str) -> None:
    blocks = parse_crontab(text)
    assert all(isinstance(block, ForeignLine) for block in blocks)
    rendered = render_crontab(blocks)
    assert rendered == (text if not text or text.endswith("\n") else text + "\n")


def test_it_reads_a_marked_entry_as_one_managed_block() -> None:
    block = managed_block(JOB, "abc123", "backup", (), LINE)
    blocks = parse_crontab(FOREIGN + block.text + "# after\n")
    assert blocks[-2] == block
    assert blocks[-1] == ForeignLine("# after\n")


def test_a_managed_block_keeps_its_cron_tz_line() -> None:
    block = managed_block(JOB, "h", "backup", ("CRON_TZ=Europe/Berlin",), LINE)
    (parsed,) = parse_crontab(block.text)
    assert isinstance(parsed, ManagedBlock)
    assert parsed.environment == ("CRON_TZ=Europe/Berlin",)
    assert parsed.entry == LINE


def test_a_marker_whose_entry_was_deleted_never_captures_the_next_foreign_job() -> None:
    marker = managed_block(JOB, "h", "backup", (), LINE).text.splitlines(keepends=True)[0]
    foreign_job = "* * * * * /usr/bin/theirs\n"
    blocks = parse_crontab(marker + foreign_job)
    assert blocks == [StaleMarker(marker, JOB), ForeignLine(foreign_job)]
    assert render_crontab(merge(blocks, {}, ())) == foreign_job


def test_a_marker_followed_by_a_comment_is_stale() -> None:
    marker = f"# crontopus:job={JOB} hash=h name=x\n"
    assert parse_crontab(marker + f"# {LINE}\n")[0] == StaleMarker(marker, JOB)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("backup", "backup"),
        ("sauvegarde été ☃ 名前", "sauvegarde été ☃ 名前"),
        ("two\nlines", "two\\nlines"),
        ("cr\rhere", "cr\\rhere"),
        ("sep\u2028line", "sep\\u2028line"),
        ("back\\slash", "back\\\\slash"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
    ],
)
def test_job_names_in_markers_stay_on_one_printable_line(name: str, shown: str) -> None:
    assert marker_name(name) == shown
    block = managed_block(JOB, "h", name, (), LINE)
    assert block.text.count("\n") == 2
    assert parse_crontab(block.text) == [block]


def test_the_rendered_crontab_always_ends_with_a_newline() -> None:
    blocks = parse_crontab("* * * * * foreign without newline")
    blocks = merge(blocks, {JOB: managed_block(JOB, "h", "x", (), LINE)}, ())
    text = render_crontab(blocks)
    assert text == "* * * * * foreign without newline\n" + blocks[-1].text


def test_merge_replaces_in_place_appends_new_and_drops_removed() -> None:
    old_a, old_b = uuid4(), uuid4()
    new = uuid4()
    a = managed_block(old_a, "1", "a", (), f"1 * * * * x {old_a}")
    b = managed_block(old_b, "1", "b", (), f"2 * * * * x {old_b}")
    top, middle, bottom = ForeignLine("# top\n"), ForeignLine("# middle\n"), ForeignLine("# end\n")
    a2 = managed_block(old_a, "2", "a", (), f"3 * * * * x {old_a}")
    c = managed_block(new, "1", "c", (), f"4 * * * * x {new}")
    merged = merge([top, a, middle, b, bottom], {old_a: a2, new: c}, [old_b])
    assert merged == [top, a2, middle, bottom, c]


def test_merge_moves_entries_that_set_cron_tz_below_every_other_line() -> None:
    zoned = managed_block(JOB, "1", "z", ("CRON_TZ=Asia/Tokyo",), LINE)
    below = ForeignLine("* * * * * theirs\n")
    assert merge([zoned, below], {}, ()) == [below, zoned]


def test_merge_keeps_only_the_first_copy_of_a_duplicated_entry() -> None:
    block = managed_block(JOB, "1", "x", (), LINE)
    assert merge([block, block], {}, ()) == [block]


@pytest.mark.parametrize(
    ("line", "schedule", "command"),
    [
        ("* * * * * echo hi\n", "* * * * *", "echo hi"),
        ("  */5   1-3 * jan mon-fri  /bin/x  --y \r\n", "*/5   1-3 * jan mon-fri", "/bin/x  --y"),
        ("@reboot /bin/boot\n", "@reboot", "/bin/boot"),
        ("0 0 1 1 * run % with stdin", "0 0 1 1 *", "run % with stdin"),
    ],
)
def test_it_reads_the_schedule_and_command_of_job_lines(
    line: str, schedule: str, command: str
) -> None:
    job = parse_job(line)
    assert job is not None
    assert (job.schedule, job.command) == (schedule, command)


@pytest.mark.parametrize(
    "line", ["# 0 2 * * * commented\n", "\n", "PATH=/usr/bin\n", "CRON_TZ=UTC\n", "garbage\n"]
)
def test_comments_blank_and_environment_lines_are_not_jobs(line: str) -> None:
    assert parse_job(line) is None


@pytest.mark.parametrize(
    ("line", "assignment"),
    [
        ("PATH=/usr/bin:/bin\n", ("PATH", "/usr/bin:/bin")),
        ('MAILTO = "ops@example.com"\n', ("MAILTO", "ops@example.com")),
        ("CRON_TZ=Europe/Berlin\r\n", ("CRON_TZ", "Europe/Berlin")),
        ("EMPTY=\n", ("EMPTY", "")),
    ],
)
def test_it_reads_environment_lines(line: str, assignment: tuple[str, str]) -> None:
    assert parse_environment(line) == assignment
