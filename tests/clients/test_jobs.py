"""`jobs list|show|create|edit|delete|history` against a real server."""

from __future__ import annotations

from pathlib import Path

from tests.clients.conftest import Cli

MANIFEST = """\
apiVersion: crontopus.io/v1
kind: Job
metadata:
  name: db-dump
  namespace: default
  labels: {team: data}
spec:
  schedule: "30 2 * * *"
  timezone: Europe/Berlin
  command: /opt/dump.sh
  args: ["--full"]
"""
JOB_KEYS = {
    "id", "name", "namespace", "path", "schedule", "timezone", "command", "args", "env",
    "secretEnv", "labels", "targetLabels", "enabled", "paused", "timeout", "graceTime",
    "concurrency", "isDiscovered", "blobId", "status", "scheduleDescription", "nextRunAt",
    "lastRun",
}  # fmt: skip


def create(cli: Cli, name: str, *extra: str) -> str:
    result = cli("jobs", "create", "--name", name, "--schedule", "*/5 * * * *",
                 "--command", "/bin/true", *extra)  # fmt: skip
    assert result.code == 0, result.err
    return result.out.strip()


def test_it_creates_a_job_from_flags_and_prints_its_id(logged_in: Cli) -> None:
    result = logged_in("jobs", "create", "--name", "backup", "--schedule", "0 2 * * *",
                       "--command", "/bin/backup", "--arg=--full", "--env", "PGHOST=db1",
                       "--label", "team=ops", "--timezone", "Europe/Berlin")  # fmt: skip
    assert result.code == 0, result.err
    job_id = result.out.strip()
    assert "Created job default/backup (default/backup.yaml)" in result.err
    shown = logged_in("jobs", "show", job_id, "--json").json()
    assert shown["schedule"] == "0 2 * * *"
    assert shown["timezone"] == "Europe/Berlin"
    assert shown["args"] == ["--full"]
    assert shown["env"] == [{"key": "PGHOST", "value": "db1"}]
    assert shown["labels"] == [{"key": "team", "value": "ops"}]


def test_it_refuses_a_bad_schedule_locally_naming_the_flag_and_the_fix(logged_in: Cli) -> None:
    result = logged_in("jobs", "create", "--name", "x", "--schedule", "5/15 * * * *",
                       "--command", "/bin/true")  # fmt: skip
    assert result.code == 2
    assert (
        '--schedule (spec.schedule): "5/15 * * * *" is not valid cron '
        '(a step needs a range or *: use "5-59/15")'
    ) in result.err
    assert logged_in("jobs", "list", "--json").json() == []


def test_create_without_a_file_or_the_required_flags_is_a_usage_error(logged_in: Cli) -> None:
    result = logged_in("jobs", "create", "--name", "x")
    assert result.code == 2
    assert "--schedule, --command: required without -f FILE" in result.err


def test_it_creates_a_job_from_a_manifest_file(logged_in: Cli, tmp_path: Path) -> None:
    manifest = tmp_path / "db-dump.yaml"
    manifest.write_text(MANIFEST)
    result = logged_in("jobs", "create", "-f", str(manifest), "--json")
    assert result.code == 0, result.err
    job = result.json()
    assert set(job) == JOB_KEYS
    assert (job["namespace"], job["name"], job["timezone"]) == (
        "default",
        "db-dump",
        "Europe/Berlin",
    )


def test_a_manifest_from_stdin_with_an_id_gets_the_servers_id(logged_in: Cli) -> None:
    fixed = "550e8400-e29b-41d4-a716-446655440000"
    text = MANIFEST.replace("  name: db-dump\n", f"  id: {fixed}\n  name: db-dump\n")
    result = logged_in("jobs", "create", "-f", "-", stdin=text)
    assert result.code == 0, result.err
    assert result.out.strip() != fixed
    assert "metadata.id is ignored" in result.err


def test_an_invalid_manifest_file_lists_every_problem_with_its_path(
    logged_in: Cli, tmp_path: Path
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        MANIFEST.replace("30 2 * * *", "61 * * * *").replace("Europe/Berlin", "Mars/Olympus")
    )
    result = logged_in("jobs", "create", "-f", str(manifest))
    assert result.code == 1
    assert f"{manifest}: 2 problems" in result.err
    assert f"{manifest}: spec.schedule:" in result.err
    assert f"{manifest}: spec.timezone:" in result.err


def test_the_server_refuses_a_duplicate_name_as_a_user_error(logged_in: Cli) -> None:
    create(logged_in, "twice")
    result = logged_in("jobs", "create", "--name", "twice", "--schedule", "* * * * *",
                       "--command", "/bin/true")  # fmt: skip
    assert result.code == 1
    assert result.err.startswith("crontopus: error: ")
    assert "twice" in result.err


def test_list_filters_by_namespace_label_and_search(logged_in: Cli) -> None:
    assert logged_in("namespaces", "create", "ops").code == 0
    for index in range(5):
        create(logged_in, f"job-{index}", "--label", f"parity={index % 2}")
    create(logged_in, "elsewhere", "--namespace", "ops")
    everything = logged_in("jobs", "list", "--json").json()
    assert len(everything) == 6
    assert [
        j["name"] for j in logged_in("jobs", "list", "--namespace", "ops", "--json").json()
    ] == ["elsewhere"]
    even = logged_in("jobs", "list", "--label", "parity=0", "--json").json()
    assert sorted(j["name"] for j in even) == ["job-0", "job-2", "job-4"]
    found = logged_in("jobs", "list", "--search", "job-3", "--json").json()
    assert [j["name"] for j in found] == ["job-3"]
    assert len(logged_in("jobs", "list", "--limit", "4", "--json").json()) == 4


def test_list_prints_a_table_without_colour_when_not_on_a_terminal(logged_in: Cli) -> None:
    create(logged_in, "tabled")
    result = logged_in("jobs", "list")
    header, row = result.out.splitlines()
    assert header.split() == [
        "ID", "NAMESPACE", "NAME", "STATUS", "SCHEDULE", "TIMEZONE", "LAST-RUN", "NEXT-RUN",
        "COMMAND",
    ]  # fmt: skip
    assert row.split()[1:5] == ["default", "tabled", "NEW", "*/5"]
    assert "\x1b[" not in result.out


def test_show_accepts_namespace_slash_name_and_prints_yaml_and_next_runs(logged_in: Cli) -> None:
    create(logged_in, "shown")
    result = logged_in("jobs", "show", "default/shown", "--count", "2")
    assert result.code == 0, result.err
    assert 'schedule: "*/5 * * * *"' in result.out
    next_runs = result.out.split("Next runs:\n")[1].split("\n\n")[0].splitlines()
    assert len(next_runs) == 2
    assert "Recent runs:\n  (none)" in result.out
    shown = logged_in("jobs", "show", "default/shown", "--json").json()
    assert set(shown) == JOB_KEYS | {"yaml", "nextRuns", "checkinUrl", "endpoints", "recentRuns"}
    assert shown["status"] == "NEW"
    assert "status:   NEW" in result.out
    assert "every 5 minutes, UTC" in result.out
    assert f"/checkin/{shown['id']}/start" in result.out


def test_show_of_a_missing_job_is_a_user_error(logged_in: Cli) -> None:
    result = logged_in("jobs", "show", "default/nothing")
    assert (result.code, result.err.strip()) == (
        1,
        'crontopus: error: no job named "nothing" in namespace "default"',
    )
    assert logged_in("jobs", "show", "not-a-reference").code == 2


def test_delete_removes_the_job(logged_in: Cli) -> None:
    job_id = create(logged_in, "doomed")
    result = logged_in("jobs", "delete", job_id, "--yes", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"id": job_id, "name": "doomed", "namespace": "default",
                             "path": "default/doomed.yaml"}  # fmt: skip
    assert logged_in("jobs", "show", job_id).code == 1


def test_delete_without_a_terminal_refuses_unless_told_yes(logged_in: Cli) -> None:
    create(logged_in, "guarded")
    refused = logged_in("jobs", "delete", "default/guarded")
    assert refused.code == 2
    assert "pass --yes to delete the job without asking (nothing was changed)" in refused.err
    assert logged_in("jobs", "show", "default/guarded").code == 0
    assert logged_in("jobs", "delete", "default/guarded", "--yes").code == 0
    assert logged_in("jobs", "show", "default/guarded").code == 1


def test_delete_asks_on_a_terminal_and_keeps_the_job_when_told_no(logged_in: Cli) -> None:
    create(logged_in, "spared")
    result = logged_in("jobs", "delete", "default/spared", stdin="n\n", terminal=True)
    assert result.code == 1
    assert "cancelled: nothing was changed" in result.err
    assert logged_in("jobs", "show", "default/spared").code == 0


def test_history_lists_commits_newest_first(logged_in: Cli) -> None:
    create(logged_in, "chronicled")
    history = logged_in("jobs", "history", "default/chronicled", "--json").json()
    assert [entry["message"] for entry in history] == ["jobs: create default/chronicled"]
    assert set(history[0]) == {"commitId", "time", "authorName", "authorEmail", "message",
                               "path", "yaml"}  # fmt: skip


def test_adopting_a_job_that_is_not_discovered_shows_the_servers_message(logged_in: Cli) -> None:
    create(logged_in, "managed")
    result = logged_in("jobs", "adopt", "default/managed", "--namespace", "default")
    assert result.code == 1
    assert result.err.startswith("crontopus: error: ")


def test_create_from_a_file_saves_every_section_of_the_manifest(
    logged_in: Cli, tmp_path: Path
) -> None:
    manifest = tmp_path / "db-dump.yaml"
    manifest.write_text(
        MANIFEST + "  alerts:\n    consecutiveFailures: 3\n    channels: [ops]\n"
        "  systemd:\n    acceptDstDifferences: true\n"
    )
    result = logged_in("jobs", "create", "-f", str(manifest))
    assert result.code == 0, result.err
    shown = logged_in("jobs", "show", result.out.strip(), "--json").json()
    assert "consecutiveFailures: 3" in shown["yaml"]
    assert "acceptDstDifferences: true" in shown["yaml"]


def test_create_from_a_file_reports_the_validators_problems_and_saves_nothing(
    logged_in: Cli, tmp_path: Path
) -> None:
    manifest = tmp_path / "db-dump.yaml"
    manifest.write_text(MANIFEST + "  alerts:\n    consecutiveFailures: 0\n")
    result = logged_in("jobs", "create", "-f", str(manifest))
    assert result.code == 1
    assert "spec.alerts.consecutiveFailures" in result.err
    assert "out of range" in result.err
    assert logged_in("jobs", "list", "--json").json() == []


def test_pause_and_resume_flip_spec_paused_by_name_and_say_when_nothing_changes(
    logged_in: Cli,
) -> None:
    job_id = create(logged_in, "nightly")
    paused = logged_in("jobs", "pause", "default/nightly", "--json")
    assert paused.code == 0, paused.err
    assert (paused.json()["id"], paused.json()["paused"]) == (job_id, True)
    assert "paused: true" in logged_in("jobs", "show", job_id).out
    again = logged_in("jobs", "pause", job_id)
    assert (again.code, "already paused" in again.err) == (0, True)
    resumed = logged_in("jobs", "resume", job_id)
    assert resumed.code == 0, resumed.err
    assert "Resumed job default/nightly" in resumed.err
    assert logged_in("jobs", "show", job_id, "--json").json()["paused"] is False
    assert logged_in("jobs", "pause", "default/missing").code == 1
    assert logged_in("jobs", "pause", "no-slash").code == 2
