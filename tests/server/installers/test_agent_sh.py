"""The Linux installer script's checks, run for real with sh; none of them installs anything.

The whole path (pip from the server's index, enrolling, upgrading in place) runs in
tests/test_release.py against an installed server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crontopus.server.installers.scripts import render
from crontopus.server.installers.wheels import AGENT_PROJECTS, Wheel

SERVER = "http://127.0.0.1:9"  # nothing listens: these tests must stop before any request
RELEASE = [
    Wheel(f"{p.replace('-', '_')}-1.2.3-py3-none-any.whl", p, "1.2.3", Path(p), "0" * 64)
    for p in AGENT_PROJECTS
]


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "agent.sh"
    path.write_text(render("agent.sh", SERVER, RELEASE))
    return path


def run(
    script: Path, *args: str, path: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    if path is not None:
        environment["PATH"] = path
    return subprocess.run(
        ["/bin/sh", str(script), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def fake_bin(directory: Path, name: str, text: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(f"#!/bin/sh\n{text}\n")
    (directory / name).chmod(0o755)


def test_it_parses_as_posix_sh(script: Path) -> None:
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="no shellcheck: apt-get install shellcheck"
)
def test_shellcheck_finds_nothing_to_fix(script: Path) -> None:
    result = subprocess.run(
        ["shellcheck", "--shell=sh", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_help_names_the_server_and_every_option(script: Path) -> None:
    result = run(script, "--help")
    assert result.returncode == 0
    assert f"curl -fsSL {SERVER}/install/agent.sh | sudo sh -s -- --token cten_..." in result.stdout
    for option in (
        "--token-stdin",
        "--index-url",
        "--find-links",
        "--no-index",
        "--prefix",
        "--no-service",
    ):
        assert option in result.stdout


def test_it_rejects_an_unknown_option_and_a_missing_value(script: Path) -> None:
    unknown = run(script, "--tokn", "x")
    missing = run(script, "--prefix")
    not_seconds = run(script, "--wait", "soon")
    assert unknown.returncode == missing.returncode == not_seconds.returncode == 1
    assert "unknown option --tokn (see --help)" in unknown.stderr
    assert "--prefix needs a value" in missing.stderr
    assert "--wait takes whole seconds" in not_seconds.stderr


def test_it_stops_when_the_server_has_no_agent_wheels(tmp_path: Path) -> None:
    script = tmp_path / "agent.sh"
    script.write_text(render("agent.sh", SERVER, []))
    result = run(script, "--token", "cten_x")
    assert result.returncode == 1
    assert "has no agent wheels to install" in result.stderr
    assert "make dist" in result.stderr


def test_it_names_the_windows_installer_on_another_system(script: Path, tmp_path: Path) -> None:
    fake_bin(tmp_path / "bin", "uname", "echo FreeBSD")
    result = run(script, "--token", "cten_x", path=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    assert result.returncode == 1
    assert "FreeBSD is not supported" in result.stderr
    assert f"{SERVER}/install/agent.ps1" in result.stderr


def test_it_asks_for_a_token_before_changing_anything(script: Path, tmp_path: Path) -> None:
    flags = ["--prefix", str(tmp_path / "opt"), "--state-dir", str(tmp_path / "state")]
    without = run(script, *flags, "--no-service")
    empty_stdin = subprocess.run(
        ["/bin/sh", str(script), *flags, "--no-service", "--token-stdin"],
        input="",
        capture_output=True,
        text=True,
        check=False,
    )
    assert without.returncode == empty_stdin.returncode == 1
    assert "enrolling needs a token: pass --token cten_... or --token-stdin" in without.stderr
    assert "--token-stdin: standard input held no token" in empty_stdin.stderr
    assert not (tmp_path / "opt").exists()


@pytest.mark.parametrize(
    ("os_release", "fix"),
    [
        ("ID=debian\n", "sudo apt-get update && sudo apt-get install -y python3 python3-venv"),
        (
            "ID=ubuntu\nID_LIKE=debian\n",
            "sudo apt-get update && sudo apt-get install -y python3.11 python3.11-venv",
        ),
        ('ID=rocky\nID_LIKE="rhel centos fedora"\n', "sudo dnf install -y python3.11"),
        ('ID=opensuse-leap\nID_LIKE="suse opensuse"\n', "sudo zypper install -y python311"),
        ("ID=alpine\n", "sudo apk add python3"),
        ("ID=arch\n", "sudo pacman -S --needed python"),
        ("ID=plan9\n", "install Python 3.11 or newer with your system's package manager"),
    ],
)
def test_it_prints_the_exact_fix_for_a_missing_python_per_distribution(
    script: Path, tmp_path: Path, os_release: str, fix: str
) -> None:
    (tmp_path / "os-release").write_text(os_release)
    bin_dir = tmp_path / "bin"
    fake_bin(bin_dir, "python3", "exit 1")  # a Python older than 3.11 fails the version check
    for tool in ("uname", "id", "sed"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    result = run(
        script,
        "--token",
        "cten_x",
        "--no-service",
        path=str(bin_dir),
        CRONTOPUS_OS_RELEASE=str(tmp_path / "os-release"),
    )
    assert result.returncode == 1
    assert "the agent needs Python 3.11 or newer, and none is on PATH" in result.stderr
    assert f"Install it: {fix}" in result.stderr


def test_it_refuses_a_named_python_older_than_3_11(script: Path, tmp_path: Path) -> None:
    fake_bin(tmp_path / "bin", "python3.9", "exit 1")
    result = run(
        script, "--token", "cten_x", "--no-service", "--python", str(tmp_path / "bin" / "python3.9")
    )
    assert result.returncode == 1
    assert f"--python {tmp_path / 'bin' / 'python3.9'}: not a Python 3.11 or newer" in result.stderr


def test_it_asks_for_root_when_installing_a_service(script: Path, tmp_path: Path) -> None:
    fake_bin(tmp_path / "bin", "id", "echo 1000")
    result = run(script, "--token", "cten_x", path=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    assert result.returncode == 1
    assert "run as root" in result.stderr


def test_on_macos_it_installs_the_launch_daemon_so_it_asks_for_root(
    script: Path, tmp_path: Path
) -> None:
    fake_bin(tmp_path / "bin", "uname", "echo Darwin")
    fake_bin(tmp_path / "bin", "id", "echo 501")
    result = run(script, "--token", "cten_x", path=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    assert result.returncode == 1
    assert "error: run as root" in result.stderr
    assert "--no-service" not in result.stderr


@pytest.mark.parametrize(
    ("system", "state"),
    [
        ("Darwin", "home/Library/Application Support/Crontopus/agent"),
        ("Linux", "home/.local/state/crontopus-agent"),
    ],
)
def test_an_agent_enrolled_in_the_users_default_state_directory_needs_no_token(
    script: Path, tmp_path: Path, system: str, state: str
) -> None:
    # The agent's own default for a user without root (statedir.py), on each system.
    (tmp_path / state).mkdir(parents=True)
    (tmp_path / state / "endpoint-token").write_text("cte_x\n")
    bin_dir = tmp_path / "bin"
    fake_bin(bin_dir, "uname", f"echo {system}")
    fake_bin(bin_dir, "id", "echo 501")
    fake_bin(bin_dir, "python3", "exit 1")  # stops the script at the next step
    result = run(script, "--no-service", path=str(bin_dir), HOME=str(tmp_path / "home"))
    assert result.returncode == 1
    assert "enrolling needs a token" not in result.stderr
    assert "the agent needs Python 3.11 or newer" in result.stderr


def test_no_index_needs_a_directory_of_wheels(script: Path) -> None:
    result = run(script, "--token", "cten_x", "--no-index", "--no-service")
    assert result.returncode == 1
    assert "--no-index needs --find-links PATH" in result.stderr
