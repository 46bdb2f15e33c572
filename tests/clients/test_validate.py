"""`jobs validate FILE…`: offline, the server's validator and messages, exit 1 on any problem,
and the pre-commit hook that runs it."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from crontopus.core.manifest import manifest_problems
from tests.clients.conftest import Cli

REPOSITORY = Path(__file__).resolve().parents[2]


def manifest(name: str = "db-dump", namespace: str = "backup", schedule: str = "0 2 * * *") -> str:
    return (
        "apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n"
        f"  id: {uuid.uuid4()}\n  name: {name}\n  namespace: {namespace}\n"
        f'spec:\n  schedule: "{schedule}"\n  command: /opt/dump.sh\n'
    )


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A jobs repository checkout as the working directory (as pre-commit runs hooks)."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "backup").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_valid_files_pass_without_a_server(cli: Cli, repository: Path) -> None:
    Path("backup/db-dump.yaml").write_text(manifest())
    Path("backup/logs.yaml").write_text(manifest("logs"))
    result = cli("jobs", "validate", "backup/db-dump.yaml", "backup/logs.yaml")
    assert (result.code, result.err) == (0, "2 files valid\n")


def test_an_invalid_file_exits_1_with_the_servers_own_message(cli: Cli, repository: Path) -> None:
    text = manifest(schedule="5/15 * * * *")
    Path("backup/db-dump.yaml").write_text(text)
    result = cli("jobs", "validate", "backup/db-dump.yaml")
    assert result.code == 1
    (expected,) = manifest_problems(text, "backup/db-dump.yaml", namespace="backup")
    assert result.err.splitlines() == [str(expected), "1 of 1 file invalid"]
    assert str(expected) == (
        'backup/db-dump.yaml: spec.schedule: "5/15 * * * *" is not valid cron '
        '(a step needs a range or *: use "5-59/15")'
    )


def test_a_file_in_the_wrong_place_is_refused_like_a_push(cli: Cli, repository: Path) -> None:
    Path("backup/other-name.yaml").write_text(manifest())
    Path("ops").mkdir()
    Path("ops/db-dump.yaml").write_text(manifest())
    result = cli("jobs", "validate", "backup/other-name.yaml", "./ops/db-dump.yaml")
    assert result.code == 1
    assert (
        'backup/other-name.yaml: metadata.name: a job named "db-dump" in namespace "backup" '
        'belongs in "backup/db-dump.yaml": move the file or change the name'
    ) in result.err
    assert "ops/db-dump.yaml: metadata.namespace:" in result.err


def test_paths_are_judged_relative_to_the_repository_root_wherever_it_runs(
    cli: Cli, repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("default").mkdir()
    Path("default/report.yaml").write_text(manifest("report", "default"))
    from_root = cli("jobs", "validate", "default/report.yaml")
    absolute = cli("jobs", "validate", str(repository / "default" / "report.yaml"))
    monkeypatch.chdir(repository / "default")
    from_inside = cli("jobs", "validate", "./report.yaml")
    monkeypatch.chdir(repository.parent)
    from_above = cli("jobs", "validate", os.path.join(repository.name, "default", "report.yaml"))
    assert [r.code for r in (from_root, absolute, from_inside, from_above)] == [0, 0, 0, 0]
    Path(repository / "default" / "report.yaml").write_text(manifest("report", "backup"))
    monkeypatch.chdir(repository / "default")
    refused = cli("jobs", "validate", "report.yaml")
    assert refused.code == 1
    assert 'default/report.yaml: metadata.namespace: "backup" does not match' in refused.err


def test_a_misplaced_file_is_reported_together_with_its_other_problems(
    cli: Cli, repository: Path
) -> None:
    Path("backup/other-name.yaml").write_text(manifest(schedule="5/15 * * * *"))
    result = cli("jobs", "validate", "backup/other-name.yaml")
    assert result.code == 1
    assert result.err.splitlines()[:2] == [
        'backup/other-name.yaml: spec.schedule: "5/15 * * * *" is not valid cron '
        '(a step needs a range or *: use "5-59/15")',
        'backup/other-name.yaml: metadata.name: a job named "db-dump" in namespace "backup" '
        'belongs in "backup/db-dump.yaml": move the file or change the name',
    ]


def test_two_files_with_one_id_are_refused(cli: Cli, repository: Path) -> None:
    first = manifest()
    job_id = re.search(r"id: (\S+)", first)
    assert job_id is not None
    Path("backup/db-dump.yaml").write_text(first)
    Path("backup/copy.yaml").write_text(re.sub(r"id: \S+", job_id.group(0), manifest("copy")))
    result = cli("jobs", "validate", "backup/db-dump.yaml", "backup/copy.yaml", "--json")
    assert result.code == 1
    report = result.json()
    assert (report["valid"], report["files"]) == (False, 2)
    assert report["problems"] == [
        {
            "file": "backup/copy.yaml",
            "path": "metadata.id",
            "message": f"{job_id.group(1)} is already the id of backup/db-dump.yaml: give this "
            "job a fresh UUID (ids are unique per repository)",
        }
    ]


def test_files_outside_a_repository_layout_are_checked_for_content_only(
    cli: Cli, tmp_path: Path
) -> None:
    loose = tmp_path / "anywhere.yaml"
    loose.write_text(manifest())
    assert cli("jobs", "validate", str(loose)).code == 0
    # Outside a Git work tree no directory is a namespace: only the content is judged.
    (tmp_path / "mf").mkdir()
    (tmp_path / "mf" / "db-dump.yaml").write_text(manifest())
    assert cli("jobs", "validate", str(tmp_path / "mf" / "db-dump.yaml")).code == 0
    missing = cli("jobs", "validate", str(tmp_path / "missing.yaml"))
    assert missing.code == 1
    assert "cannot be read" in missing.err
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    assert "is not UTF-8 text" in cli("jobs", "validate", str(binary)).err


def test_the_installed_command_is_what_the_pre_commit_hook_runs(cli: Cli, repository: Path) -> None:
    (hook,) = yaml.safe_load((REPOSITORY / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "crontopus-validate"
    assert hook["entry"] == "crontopus jobs validate"
    files = re.compile(hook["files"])
    assert files.search("backup/db-dump.yaml")
    assert not files.search("docs/examples/job.yaml")
    assert not files.search("README.md")
    Path("backup/db-dump.yaml").write_text(manifest(schedule="0 0 30 2 *"))
    result = cli.run(*hook["entry"].split()[1:], "backup/db-dump.yaml")
    assert result.code == 1
    assert "backup/db-dump.yaml: spec.schedule:" in result.err
