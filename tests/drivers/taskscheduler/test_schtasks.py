"""The schtasks seam: the exact commands sent and how their answers are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from crontopus.drivers.errors import RetryableDriverError
from crontopus.drivers.taskscheduler.schtasks import Schtasks
from tests.drivers.taskscheduler.conftest import FakeSchtasks

XML = (
    '<?xml version="1.0" encoding="UTF-16"?>\n'
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">'
    "<Actions><Exec><Command>x.exe</Command></Exec></Actions></Task>\n"
)


def test_it_creates_a_task_from_a_utf16_file_and_removes_the_file(
    fake_schtasks: FakeSchtasks, tmp_path: Path
) -> None:
    Schtasks(fake_schtasks, scratch_dir=tmp_path).create("\\Crontopus\\job", XML)
    (call,) = fake_schtasks.calls
    assert call[:5] == ["schtasks.exe", "/Create", "/TN", "\\Crontopus\\job", "/XML"]
    assert call[6:] == ["/F"]
    assert fake_schtasks.files_seen == [XML.encode("utf-16")]
    assert list(tmp_path.iterdir()) == []


def test_it_lists_every_task_with_its_path(fake_schtasks: FakeSchtasks) -> None:
    fake_schtasks.tasks = {"\\Crontopus\\a": XML, "\\Backup nightly": XML}
    listed = Schtasks(fake_schtasks).query_all()
    assert [t.name for t in listed] == ["\\Crontopus\\a", "\\Backup nightly"]
    assert fake_schtasks.calls == [["schtasks.exe", "/Query", "/XML", "ONE"]]
    assert listed[0].xml.startswith("<Task ")


def test_querying_a_missing_task_answers_none(fake_schtasks: FakeSchtasks) -> None:
    assert Schtasks(fake_schtasks).query("\\Crontopus\\gone") is None
    assert fake_schtasks.calls == [["schtasks.exe", "/Query", "/TN", "\\Crontopus\\gone", "/XML"]]


def test_deleting_forces_and_ignores_a_task_already_gone(fake_schtasks: FakeSchtasks) -> None:
    fake_schtasks.tasks = {"\\Crontopus\\a": XML}
    tasks = Schtasks(fake_schtasks)
    tasks.delete("\\Crontopus\\a")
    tasks.delete("\\Crontopus\\a")
    assert fake_schtasks.calls[0] == ["schtasks.exe", "/Delete", "/TN", "\\Crontopus\\a", "/F"]
    assert fake_schtasks.tasks == {}


def test_a_failed_command_raises_with_its_message(
    fake_schtasks: FakeSchtasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = Schtasks(fake_schtasks, executable="schtasks.exe")
    # Every call fails the way schtasks does without the rights to the task folder.
    monkeypatch.setattr(
        fake_schtasks, "run", lambda argv: fake_schtasks._fail("ERROR: Access is denied.")
    )
    with pytest.raises(RetryableDriverError, match="Access is denied"):
        tasks.query_all()
