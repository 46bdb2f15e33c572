"""The systemd unit: written by `service install`, checked by `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crontopus.agent.service.definition import ServiceSpec
from crontopus.agent.service.systemd import render_unit

AGENT = str(Path(sys.executable).parent / "crontopus-agent")
needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def agent(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run([AGENT, *args], capture_output=True, text=True, check=False, env=env)


def verify(unit: Path, *, user: bool = False) -> subprocess.CompletedProcess[str]:
    scope = ["--user"] if user else []
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "notice"}
    if user:  # a user manager needs a runtime directory, as a login session would give it
        runtime = unit.parent / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    # --man=no: the Documentation= link is not a local man page, and no man-db runs here.
    return subprocess.run(
        ["systemd-analyze", *scope, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@needs_systemd_analyze
def test_install_below_a_root_writes_a_unit_systemd_accepts_and_enables_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    state = tmp_path / "state"

    result = agent("--state-dir", str(state), "service", "install", "--root", str(root))

    assert result.returncode == 0, result.stderr
    unit = root / "etc/systemd/system/crontopus-agent.service"
    text = unit.read_text()
    assert f"ExecStart={AGENT} --state-dir {state} run\n" in text
    assert "WantedBy=multi-user.target" in text
    assert (
        root / "etc/systemd/system/multi-user.target.wants/crontopus-agent.service"
    ).is_symlink()
    checked = verify(unit)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


@needs_systemd_analyze
def test_a_user_unit_lands_in_the_users_config_and_passes_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "state"

    result = agent(
        "--state-dir", str(state), "service", "install", "--user", "--root", str(tmp_path / "r"),
        home=home,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    unit = tmp_path / "r" / home.relative_to("/") / ".config/systemd/user/crontopus-agent.service"
    text = unit.read_text()
    assert "WantedBy=default.target" in text
    assert "NoNewPrivileges" not in text  # a user manager may not be able to apply it
    assert "skipped (--root): systemctl --user daemon-reload" in result.stdout
    checked = verify(unit, user=True)
    assert checked.returncode == 0, checked.stderr


@needs_systemd_analyze
def test_a_path_with_spaces_and_percent_signs_survives_systemds_quoting(tmp_path: Path) -> None:
    program = tmp_path / "my agent" / "crontopus-agent"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    spec = ServiceSpec(str(program), tmp_path / "state 100%")
    unit = tmp_path / "crontopus-agent.service"
    unit.write_text(render_unit(spec))

    checked = verify(unit)

    assert checked.returncode == 0, checked.stderr
    assert f'ExecStart="{program}" --state-dir "{tmp_path}/state 100%%" run' in unit.read_text()


def test_uninstall_below_a_root_removes_the_unit_and_its_enablement(tmp_path: Path) -> None:
    root = tmp_path / "root"
    state = str(tmp_path / "state")
    assert agent("--state-dir", state, "service", "install", "--root", str(root)).returncode == 0

    result = agent("--state-dir", state, "service", "uninstall", "--root", str(root))

    assert result.returncode == 0, result.stderr
    assert not (root / "etc/systemd/system/crontopus-agent.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists() or not any(
        (root / "etc/systemd/system/multi-user.target.wants").iterdir()
    )


def test_installing_a_system_unit_where_systemd_does_not_run_says_what_to_do(
    tmp_path: Path,
) -> None:
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd runs here")

    result = agent("--state-dir", str(tmp_path), "service", "install")

    assert result.returncode == 1
    assert "systemd is not running on this machine (no /run/systemd/system)" in result.stderr
    assert not Path("/etc/systemd/system/crontopus-agent.service").exists()


def test_an_unknown_manager_is_refused_with_the_choices(tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "service", "install", "--manager", "upstart")

    assert result.returncode == 2
    assert "--manager: 'upstart' is not one of systemd, launchd, windows" in result.stderr


def test_installing_without_a_service_manager_says_which_to_pass(tmp_path: Path) -> None:
    if shutil.which("launchctl") is not None:
        pytest.skip("launchctl exists here")
    state = tmp_path / "state"
    state.mkdir()
    (state / "endpoint-token").write_text("cte_x\n")
    home = tmp_path / "home"
    home.mkdir()

    result = agent(
        "--state-dir", str(state), "service", "install", "--manager", "launchd", "--user",
        home=home,
    )  # fmt: skip

    assert result.returncode == 1
    assert "launchctl: not found" in result.stderr
    assert "pass --manager" in result.stderr


@pytest.mark.machine
def test_a_real_system_unit_starts_reports_status_and_uninstalls(tmp_path: Path) -> None:
    if not Path("/run/systemd/system").is_dir():
        pytest.skip("systemd is not the init system here")
    state = str(tmp_path / "state")
    # Not enrolled: install must write and enable the unit, but refuse to start it.
    result = agent("--state-dir", state, "service", "install")
    try:
        assert result.returncode == 0, result.stderr
        assert "not enrolled" in result.stderr
        enabled = subprocess.run(
            ["systemctl", "is-enabled", "crontopus-agent.service"], capture_output=True, text=True
        )
        assert enabled.stdout.strip() == "enabled"
    finally:
        agent("--state-dir", state, "service", "uninstall")
    assert not Path("/etc/systemd/system/crontopus-agent.service").exists()
