"""The Windows start-up task, held to the Task Scheduler schema rules the driver's tasks meet."""

from __future__ import annotations

from pathlib import PureWindowsPath

from crontopus.agent.service.definition import ServiceSpec
from crontopus.agent.service.windows import commands, files, render_task
from crontopus.drivers.taskscheduler.xml import NAMESPACE, decode_task
from tests.drivers.taskscheduler.test_xml import check_schema_rules

NS = f"{{{NAMESPACE}}}"
AGENT = r"C:\Program Files\Crontopus\Scripts\crontopus-agent.exe"
SPEC = ServiceSpec(AGENT, PureWindowsPath(r"C:\ProgramData\Crontopus Agent"))


def test_the_task_starts_at_boot_as_local_system_and_restarts_on_failure() -> None:
    root = check_schema_rules(render_task(SPEC))

    assert [t.tag for t in root.find(f"{NS}Triggers") or []] == [f"{NS}BootTrigger"]
    assert root.findtext(f"{NS}Principals/{NS}Principal/{NS}UserId") == "S-1-5-18"
    settings = root.find(f"{NS}Settings")
    assert settings is not None
    assert settings.findtext(f"{NS}RestartOnFailure/{NS}Interval") == "PT1M"
    assert settings.findtext(f"{NS}RestartOnFailure/{NS}Count") == "999"
    assert settings.findtext(f"{NS}ExecutionTimeLimit") == "PT0S"
    assert settings.findtext(f"{NS}MultipleInstancesPolicy") == "IgnoreNew"


def test_the_action_quotes_a_state_directory_with_spaces() -> None:
    root = check_schema_rules(render_task(SPEC))

    assert root.findtext(f"{NS}Actions/{NS}Exec/{NS}Command") == AGENT
    arguments = root.findtext(f"{NS}Actions/{NS}Exec/{NS}Arguments")
    assert arguments == (
        r'--state-dir "C:\ProgramData\Crontopus Agent" run'
        r' --log-file "C:\ProgramData\Crontopus Agent\agent.log"'
    )


def test_the_task_file_is_utf16_and_registered_from_the_state_directory() -> None:
    (item,) = files(SPEC)

    assert item.path == PureWindowsPath(r"C:\ProgramData\Crontopus Agent\agent-task.xml")
    assert item.content.startswith(b"\xff\xfe")
    check_schema_rules(decode_task(item.content))
    assert commands(SPEC, "register") == [
        ["schtasks", "/Create", "/TN", "\\Crontopus\\Agent", "/XML", str(item.path), "/F"]
    ]
    assert commands(SPEC, "unregister") == [
        ["schtasks", "/Delete", "/TN", "\\Crontopus\\Agent", "/F"]
    ]
