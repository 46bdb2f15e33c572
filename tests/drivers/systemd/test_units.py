"""Timer and service units: what systemd reads from them, and discovery reading them back."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from crontopus.drivers.systemd.units import (
    exec_line,
    parse_timer,
    quote_word,
    render_service,
    render_timer,
    service_name,
    timer_name,
)
from tests.drivers.systemd.conftest import SystemdOracle

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
LINES = ("*-*-01..07 00:00:00 UTC", "Mon *-*-* 00:00:00 UTC")


def write_pair(tmp_path: Path, argv: list[str], name: str = "backup 100% db") -> tuple[Path, Path]:
    timer = tmp_path / timer_name(JOB)
    service = tmp_path / service_name(JOB)
    timer.write_text(render_timer(JOB, LINES, name=name))
    service.write_text(render_service(JOB, argv, name=name))
    return timer, service


def test_systemd_accepts_the_rendered_units(systemd: SystemdOracle, tmp_path: Path) -> None:
    timer, service = write_pair(tmp_path, ["/bin/true", "run-job", str(JOB)])
    assert systemd.verify(str(timer), str(service)) == ""


def test_systemd_accepts_a_command_full_of_special_characters(
    systemd: SystemdOracle, tmp_path: Path
) -> None:
    argv = ["/bin/true", "a b", "100%", "$HOME", 'say "hi"', "back\\slash", ";", "tab\there", "é"]
    timer, service = write_pair(tmp_path, argv)
    assert systemd.verify(str(timer), str(service)) == ""


def test_the_timer_fires_exactly_and_never_catches_up() -> None:
    text = render_timer(JOB, LINES)
    assert "OnCalendar=*-*-01..07 00:00:00 UTC\nOnCalendar=Mon *-*-* 00:00:00 UTC\n" in text
    assert "AccuracySec=1us\n" in text
    assert "RandomizedDelaySec=0\n" in text
    assert "Persistent=false\n" in text
    assert f"Unit=crontopus-{JOB}.service\n" in text
    assert f"X-Crontopus-Job={JOB}\n" in text


def test_the_service_runs_the_wrapper_once_without_a_start_timeout() -> None:
    text = render_service(JOB, ["/usr/bin/crontopus-agent", "run-job", str(JOB)])
    assert "Type=oneshot\n" in text
    assert f"ExecStart=/usr/bin/crontopus-agent run-job {JOB}\n" in text
    assert "TimeoutStartSec=infinity\n" in text


def test_units_are_named_from_the_job_uuid() -> None:
    assert timer_name(JOB) == f"crontopus-{JOB}.timer"
    assert service_name(JOB) == f"crontopus-{JOB}.service"


def test_words_are_quoted_so_systemd_expands_nothing() -> None:
    assert quote_word("plain-word_1.0") == "plain-word_1.0"
    assert quote_word("100%") == '"100%%"'
    assert quote_word("$HOME") == '"$$HOME"'
    assert quote_word('a "b"') == '"a \\"b\\""'
    assert quote_word("") == '""'
    assert quote_word(";") == '";"'


def test_it_refuses_a_relative_or_prefixed_executable() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        exec_line(["crontopus-agent", "run-job"])
    with pytest.raises(ValueError, match="argv is empty"):
        exec_line([])


def test_the_description_escapes_specifiers() -> None:
    assert "Description=Crontopus job backup 100%% db (" in render_timer(
        JOB, LINES, name="backup 100% db"
    )


def test_it_reads_a_managed_timer_back() -> None:
    unit = parse_timer(timer_name(JOB), render_timer(JOB, LINES))
    assert unit.managed
    assert unit.job_id == JOB
    assert unit.on_calendar == LINES
    assert unit.unit == service_name(JOB)


def test_it_reads_a_foreign_timer_with_resets_and_continuations() -> None:
    text = (
        "[Unit]\nDescription=Logrotate\n\n[Timer]\n"
        "OnCalendar=hourly\nOnCalendar=\n"
        "# a comment\nOnCalendar=*-*-* 00:00:00\nOnCalendar=Mon \\\n *-*-* 12:00\n"
        "AccuracySec=1h\n"
    )
    unit = parse_timer("logrotate.timer", text)
    assert not unit.managed
    assert unit.on_calendar == ("*-*-* 00:00:00", "Mon  *-*-* 12:00")
    assert unit.unit is None


def test_a_marker_that_is_not_a_uuid_does_not_make_a_timer_managed() -> None:
    text = "[Unit]\nX-Crontopus-Job=not-a-uuid\n[Timer]\nOnCalendar=daily\n"
    assert not parse_timer("x.timer", text).managed
