"""Where the state directory is by default, on every platform, and how Windows protects it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crontopus.agent.statedir import default_state_dir, restrict_command

HOME = Path("/home/ada")


@pytest.mark.parametrize(
    ("platform", "root", "environ", "expected"),
    [
        ("linux", True, {}, "/var/lib/crontopus-agent"),
        ("linux", False, {}, "/home/ada/.local/state/crontopus-agent"),
        ("linux", False, {"XDG_STATE_HOME": "/srv/state"}, "/srv/state/crontopus-agent"),
        ("freebsd14", True, {}, "/var/lib/crontopus-agent"),
        ("darwin", True, {}, "/Library/Application Support/Crontopus/agent"),
        ("darwin", False, {}, "/home/ada/Library/Application Support/Crontopus/agent"),
        ("win32", False, {"ProgramData": "D:\\Data"}, "D:\\Data/Crontopus/agent"),
        ("win32", False, {}, "C:\\ProgramData/Crontopus/agent"),
    ],
)
def test_the_default_state_directory_follows_the_platforms_conventions(
    platform: str, root: bool, environ: dict[str, str], expected: str
) -> None:
    found = default_state_dir(platform, environ, HOME, root)

    assert found == Path(expected)


def test_a_windows_state_directory_is_left_to_system_and_administrators_only() -> None:
    command = restrict_command(Path("C:\\ProgramData/Crontopus/agent"))

    assert command[:3] == ["icacls", "C:\\ProgramData/Crontopus/agent", "/inheritance:r"]
    assert command[3:] == [
        "/grant:r", "*S-1-5-18:(OI)(CI)F", "/grant:r", "*S-1-5-32-544:(OI)(CI)F",
    ]  # fmt: skip
