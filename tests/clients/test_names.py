"""Job and endpoint names completed by real bash, zsh and fish through `complete-names`,
which asks a real server and keeps the names for a minute on disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.conftest import Cli, Server, User
from tests.clients.test_fleet import enroll

CREATE_JOB = """
mutation($name: String!, $ns: String!) {
  createJob(input: {name: $name, namespace: $ns, schedule: "0 3 * * *", command: "/bin/true"}) {
    __typename
  }
}
"""
BIN = str(Path(sys.executable).parent)


def create_job(server: Server, user: User, name: str, namespace: str = "default") -> None:
    if namespace != "default":
        server.graphql(
            "mutation($n: String!) { createNamespace(name: $n) { __typename } }",
            {"n": namespace},
            user.access_token,
        )
    data = server.graphql(CREATE_JOB, {"name": name, "ns": namespace}, user.access_token)
    assert data["createJob"]["__typename"] == "Job", data


def environment(cli: Cli) -> dict[str, str]:
    """The CLI's environment with the installed `crontopus` first on PATH, as a shell has it."""
    env = cli.environment()
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return env


def script(cli: Cli, shell: str, tmp_path: Path) -> Path:
    path = tmp_path / f"crontopus.{shell}"
    path.write_text(cli("completion", shell).out)
    return path


def bash_complete(cli: Cli, tmp_path: Path, line: str) -> list[str]:
    """What bash's completion function offers after `line` (the last word being completed)."""
    words = line.split(" ")
    program = f"""
source {script(cli, "bash", tmp_path)}
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
_crontopus
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, env=environment(cli)
    )
    return done.stdout.split()


def age_cache(cli: Cli, seconds: float) -> int:
    """Make every names cache `seconds` older; return how many there are."""
    caches = list((cli.home / ".cache" / "crontopus").glob("names-*.json"))
    for cache in caches:
        data = json.loads(cache.read_text())
        data["at"] -= seconds
        cache.write_text(json.dumps(data))
    return len(caches)


def test_bash_completes_job_names_after_a_job_command_and_after_job(
    logged_in: Cli, server: Server, user: User, tmp_path: Path
) -> None:
    create_job(server, user, "db-dump", "backup")
    create_job(server, user, "db-vacuum", "backup")
    create_job(server, user, "rotate-logs")

    assert bash_complete(logged_in, tmp_path, "crontopus jobs show backup/db-") == [
        "backup/db-dump",
        "backup/db-vacuum",
    ]
    assert bash_complete(logged_in, tmp_path, "crontopus jobs show ") == [
        "backup/db-dump",
        "backup/db-vacuum",
        "default/rotate-logs",
    ]
    assert bash_complete(logged_in, tmp_path, "crontopus runs list --job def") == [
        "default/rotate-logs"
    ]
    # Only the job argument: a second word after it is not a job.
    assert bash_complete(logged_in, tmp_path, "crontopus jobs show backup/db-dump ba") == []
    # Options still complete as before.
    assert bash_complete(logged_in, tmp_path, "crontopus jobs show --js") == ["--json"]


def test_names_are_kept_a_minute_on_disk_then_asked_again(
    logged_in: Cli, server: Server, user: User, tmp_path: Path
) -> None:
    create_job(server, user, "first")
    assert bash_complete(logged_in, tmp_path, "crontopus jobs show default/") == ["default/first"]
    cache = next((logged_in.home / ".cache" / "crontopus").glob("names-*.json"))
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    create_job(server, user, "second")

    # Within the minute the cache answers, without the server.
    assert bash_complete(logged_in, tmp_path, "crontopus jobs show default/") == ["default/first"]
    assert age_cache(logged_in, 61) == 1
    assert bash_complete(logged_in, tmp_path, "crontopus jobs show default/") == [
        "default/first",
        "default/second",
    ]


def test_endpoint_names_complete_for_endpoints_label_and_jobs_run(
    logged_in: Cli, server: Server, tmp_path: Path
) -> None:
    token = logged_in("enrollment-tokens", "create", "fleet", "--json").json()["plaintext"]
    for name in ("db1", "db2", "web1"):
        assert enroll(server, token, name)["__typename"] == "EnrolledEndpoint"

    assert bash_complete(logged_in, tmp_path, "crontopus endpoints label d") == ["db1", "db2"]
    assert bash_complete(logged_in, tmp_path, "crontopus jobs run default/x --endpoint w") == [
        "web1"
    ]


def test_without_a_login_completion_offers_nothing_and_prints_no_error(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("complete-names", "jobs", "--", "x")
    assert (result.code, result.out, result.err) == (0, "", "")
    assert bash_complete(cli, tmp_path, "crontopus jobs show ") == []


def test_zsh_completes_job_names_through_bashcompinit(
    logged_in: Cli, server: Server, user: User, tmp_path: Path
) -> None:
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed here")
    create_job(server, user, "nightly", "reports")
    program = f"""
source {script(logged_in, "zsh", tmp_path)}
COMP_WORDS=(crontopus jobs show rep)
COMP_CWORD=3
emulate ksh -c _crontopus
print -l -- "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        [zsh, "-f", "-c", program],
        capture_output=True,
        text=True,
        env=environment(logged_in),
        check=True,
    )
    assert done.stdout.split() == ["reports/nightly"], done.stderr


def test_fish_completes_job_and_endpoint_names(
    logged_in: Cli, server: Server, user: User, tmp_path: Path
) -> None:
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed here")
    create_job(server, user, "weekly", "reports")
    path = script(logged_in, "fish", tmp_path)
    program = (
        f"source {path}; complete -C 'crontopus jobs show rep'; "
        "complete -C 'crontopus runs list --job rep'"
    )
    done = subprocess.run(
        [fish, "--no-config", "-c", program],
        capture_output=True,
        text=True,
        env=environment(logged_in),
        check=True,
    )
    # fish prints each candidate with its description after a tab.
    offered = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert offered == ["reports/weekly", "reports/weekly"], done.stderr
