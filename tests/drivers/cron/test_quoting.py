"""Commands are written so cron, then /bin/sh, hand the wrapper exactly its argv."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import pytest

from crontopus.drivers import DesiredEntry, PermanentDriverError
from crontopus.drivers.cron import CommandCrontab, CronDriver
from crontopus.drivers.cron.quoting import MAX_COMMAND_BYTES, render_command
from tests.support import cron_command

ECHO_ARGV = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]
TRICKY = [
    "plain",
    "with space",
    "50%",
    "%",
    "%%",
    "\\%",
    "a\\%b",
    "\\\\%",
    "trailing\\",
    "a\\b",
    "two\\\\back",
    "\\\\\\%%",
    "it's",
    '"double"',
    "$HOME",
    "`id`",
    "$(id)",
    "; rm -rf /",
    "*",
    "~",
    "tab\there",
    "ünïcödé ☃ 名前",
    "",
    "--state-dir=/var/lib/crontopus agent",
    "!",
    "a#b",
    " # not a comment",
]


def run_like_cron(line_command: str, *, debian: bool) -> list[str]:
    command, stdin = cron_command(line_command, debian=debian)
    assert stdin is None, f"cron would cut the command at a bare %: {line_command!r}"
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, check=True, env={})
    decoded: list[str] = json.loads(result.stdout)
    return decoded


CRONS = pytest.mark.parametrize("debian", [True, False], ids=["debian-cron", "cronie"])


@CRONS
@pytest.mark.parametrize("arg", TRICKY)
def test_cron_and_the_shell_hand_each_argument_over_unchanged(arg: str, debian: bool) -> None:
    assert run_like_cron(render_command([*ECHO_ARGV, arg]), debian=debian) == [arg]


@CRONS
def test_all_tricky_arguments_survive_together(debian: bool) -> None:
    assert run_like_cron(render_command([*ECHO_ARGV, *TRICKY]), debian=debian) == TRICKY


def test_no_cron_ever_sees_a_doubled_backslash_or_an_unmeant_escape() -> None:
    text = render_command(["/bin/echo", *TRICKY])
    assert "\\\\" not in text
    assert all(text[index + 1] in "%'" for index, char in enumerate(text) if char == "\\")


def test_every_percent_is_escaped_for_cron() -> None:
    text = render_command(["/bin/echo", "50%", "a\\%b"])
    assert "%" not in text.replace("\\%", "")


def test_a_plain_argv_stays_readable() -> None:
    uuid = "550e8400-e29b-41d4-a716-446655440000"
    argv = ["/usr/local/bin/crontopus-agent", "run-job", uuid]
    assert render_command(argv) == " ".join(argv)


def test_the_command_never_starts_with_a_star() -> None:
    assert render_command(["*star", "x"]).startswith("'")


@pytest.mark.parametrize("bad", ["line\nbreak", "carriage\rreturn", "nul\x00", "bell\x07"])
def test_it_refuses_line_breaks_and_control_characters(bad: str) -> None:
    with pytest.raises(PermanentDriverError, match="argument 1"):
        render_command(["/bin/echo", bad])


def test_it_refuses_an_empty_argv() -> None:
    with pytest.raises(PermanentDriverError, match="empty"):
        render_command([])


def test_it_refuses_a_command_cron_would_truncate() -> None:
    with pytest.raises(PermanentDriverError, match="truncates"):
        render_command(["/bin/echo", "x" * MAX_COMMAND_BYTES])


def crontab_has_dry_run() -> bool:
    """Say whether crontab(1) is Debian's, whose -n checks syntax (cronie's -n names a host)."""
    if shutil.which("crontab") is None:
        return False
    usage = subprocess.run(["crontab", "-h"], capture_output=True, text=True)
    return "dry run" in usage.stdout + usage.stderr


@pytest.mark.skipif(not crontab_has_dry_run(), reason="needs Debian's crontab -n (dry run)")
def test_the_real_crontab_accepts_every_rendered_command(tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    lines = [f"* * * * * {render_command(['/bin/echo', arg])}\n" for arg in TRICKY]
    crontab.write_text("".join(lines), encoding="utf-8")
    # -n checks the syntax without installing anything (Debian cron and cronie).
    result = subprocess.run(["crontab", "-n", str(crontab)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.machine
def test_cron_itself_runs_the_rendered_command_with_every_argument_intact(
    throwaway_user: str, request: pytest.FixtureRequest
) -> None:
    # pytest's tmp_path sits under a 0700 directory the throwaway user cannot enter.
    with tempfile.TemporaryDirectory(prefix="crontopus-cron-") as shared:
        Path(shared).chmod(0o755)
        outbox = Path(shared, "outbox")
        outbox.mkdir()
        outbox.chmod(stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
        record = outbox / "argv.json"
        script = f"import json, sys; open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))"
        job = uuid4()
        argv = ["/usr/bin/python3", "-c", script, str(job), *TRICKY]
        driver = CronDriver(CommandCrontab(throwaway_user), cron_tz=False, machine_zone="UTC")
        driver.apply([DesiredEntry.build(job, "quoting", "* * * * *", None, argv)])
        # Start cron only now: a daemon that scanned the spool in the same second as the
        # install would miss it (cron compares the spool's mtime, in whole seconds).
        request.getfixturevalue("cron_daemon")
        deadline = time.monotonic() + 150
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(1)
        assert record.exists(), "cron did not run the job within two and a half minutes"
        time.sleep(0.5)
        recorded = json.loads(record.read_text())
    assert recorded == [str(job), *TRICKY]
