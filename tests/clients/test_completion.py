"""Shell completion scripts for bash, zsh and fish, generated from the command tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import Cli


def complete(script: Path, line: str) -> list[str]:
    """Ask bash's completion function what it offers after `line`."""
    words = line.split(" ")
    program = f"""
source {script}
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
_crontopus
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.fixture
def bash_script(cli: Cli, tmp_path: Path) -> Path:
    result = cli("completion", "bash")
    assert result.code == 0
    path = tmp_path / "crontopus.bash"
    path.write_text(result.out)
    return path


def test_bash_completes_commands_and_subcommands(bash_script: Path) -> None:
    assert "jobs" in complete(bash_script, "crontopus ")
    assert complete(bash_script, "crontopus jo") == ["jobs"]
    assert complete(bash_script, "crontopus jobs va") == ["validate"]
    assert complete(bash_script, "crontopus enrollment-tokens c") == ["create"]


def test_bash_completes_flags_and_their_choices(bash_script: Path) -> None:
    assert complete(bash_script, "crontopus health jobs --wi") == ["--window"]
    assert complete(bash_script, "crontopus health jobs --window ") == ["24h", "7d", "30d", "90d"]
    assert complete(bash_script, "crontopus --json runs list --status S") == ["SUCCESS"]
    assert "--limit" in complete(bash_script, "crontopus runs list --")
    assert complete(bash_script, "crontopus completion ") == ["bash", "zsh", "fish"]


def test_bash_offers_files_to_validate(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text("")
    offered = complete(bash_script, f"crontopus jobs validate {tmp_path}/jo")
    assert offered == [f"{tmp_path}/job.yaml"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(cli: Cli, shell: str, tmp_path: Path) -> None:
    result = cli("completion", shell)
    assert result.code == 0
    assert "enrollment-tokens" in result.out
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed here")
    script = tmp_path / f"crontopus.{shell}"
    script.write_text(result.out)
    check = subprocess.run([binary, "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_fish_completes_commands_with_their_summaries(cli: Cli, tmp_path: Path) -> None:
    binary = shutil.which("fish")
    if binary is None:
        pytest.skip("fish is not installed here")
    script = tmp_path / "crontopus.fish"
    script.write_text(cli("completion", "fish").out)
    program = f"source {script}; complete -C 'crontopus jobs va'; complete -C 'crontopus audit --l'"
    done = subprocess.run([binary, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "validate\tCheck manifest files offline (exit 1 on any problem).",
        "--limit\tat most N (default 50)",
    ]
