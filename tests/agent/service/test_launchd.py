"""The launchd property list, read back with plistlib as launchd reads it."""

from __future__ import annotations

import plistlib
from pathlib import PurePosixPath

from crontopus.agent.service.definition import ServiceSpec
from crontopus.agent.service.launchd import commands, files, plist_path

SPEC = ServiceSpec("/opt/crontopus-agent/bin/crontopus-agent", PurePosixPath("/var/lib/ca"))


def test_the_daemon_plist_runs_the_agent_at_boot_and_restarts_it_after_a_crash() -> None:
    (item,) = files(SPEC)

    document = plistlib.loads(item.content)

    assert item.path == PurePosixPath("/Library/LaunchDaemons/io.crontopus.agent.plist")
    assert document["Label"] == "io.crontopus.agent"
    assert document["ProgramArguments"] == [
        "/opt/crontopus-agent/bin/crontopus-agent", "--state-dir", "/var/lib/ca", "run",
    ]  # fmt: skip
    assert document["RunAtLoad"] is True
    assert document["KeepAlive"] == {"SuccessfulExit": False}
    assert document["StandardErrorPath"] == "/Library/Logs/crontopus-agent/agent.log"


def test_a_user_agent_lives_in_the_users_library_and_its_gui_domain() -> None:
    spec = ServiceSpec(
        "/x/crontopus-agent", PurePosixPath("/s"), True, PurePosixPath("/Users/a"), 501
    )

    assert plist_path(spec) == PurePosixPath(
        "/Users/a/Library/LaunchAgents/io.crontopus.agent.plist"
    )
    assert commands(spec, "start") == [["launchctl", "bootstrap", "gui/501", str(plist_path(spec))]]
    assert commands(spec, "stop") == [["launchctl", "bootout", "gui/501/io.crontopus.agent"]]
    document = plistlib.loads(files(spec)[0].content)
    assert document["StandardOutPath"] == "/Users/a/Library/Logs/crontopus-agent/agent.log"


def test_a_system_daemon_is_loaded_into_the_system_domain() -> None:
    assert commands(SPEC, "status") == [["launchctl", "print", "system/io.crontopus.agent"]]
