"""Job manifests: every field rule, all problems at once, and a stable canonical form."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from crontopus.core.enums import Concurrency
from crontopus.core.errors import CrontopusError, ManifestError
from crontopus.core.manifest import (
    MAX_ARGS,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_LABELS,
    MAX_MANIFEST_BYTES,
    JobManifest,
    Problem,
    Targets,
    dump_manifest,
    manifest_from_dict,
    manifest_path,
    manifest_problems,
    manifest_to_dict,
    parse_manifest,
    path_problems,
    split_manifest_path,
)

JOB_ID = "550e8400-e29b-41d4-a716-446655440000"

FULL = f"""\
apiVersion: crontopus.io/v1
kind: Job
metadata:
  id: {JOB_ID}
  name: backup-database
  namespace: backup
  labels: {{team: platform}}
spec:
  schedule: "0 2 * * *"
  timezone: Europe/Berlin
  command: /opt/scripts/backup.sh
  args: ["--full"]
  env: {{PGHOST: db1}}
  enabled: true
  paused: false
  timeout: 3600
  graceTime: 300
  concurrency: forbid
  targets: {{labels: {{role: db}}}}
"""

MINIMAL = f"""\
apiVersion: v1
kind: Job
metadata:
  id: {JOB_ID}
  name: tick
  namespace: default
spec:
  schedule: "@hourly"
  command: /bin/true
"""


def manifest_with(spec: str = "", metadata: str = "", namespace: str = "default") -> str:
    """Return a valid manifest with extra lines in metadata and spec (overriding keys drop)."""
    base_metadata = {"id": JOB_ID, "name": "tick", "namespace": namespace}
    base_spec = {"schedule": '"@hourly"', "command": "/bin/true"}
    lines = ["apiVersion: crontopus.io/v1", "kind: Job", "metadata:"]
    extra_metadata = textwrap.dedent(metadata).strip()
    extra_spec = textwrap.dedent(spec).strip()
    for key, value in base_metadata.items():
        if not any(line.startswith(f"{key}:") for line in extra_metadata.splitlines()):
            lines.append(f"  {key}: {value}")
    lines += [f"  {line}" for line in extra_metadata.splitlines()]
    lines.append("spec:")
    for key, value in base_spec.items():
        if not any(line.startswith(f"{key}:") for line in extra_spec.splitlines()):
            lines.append(f"  {key}: {value}")
    lines += [f"  {line}" for line in extra_spec.splitlines()]
    return "\n".join(lines) + "\n"


def problems_of(text: str | bytes, namespace: str | None = None) -> list[str]:
    return [str(problem) for problem in manifest_problems(text, "f.yaml", namespace=namespace)]


def test_it_reads_the_manifest_from_the_design() -> None:
    job = parse_manifest(FULL, "backup/backup-database.yaml", namespace="backup")
    assert job == JobManifest(
        id=uuid.UUID(JOB_ID),
        name="backup-database",
        namespace="backup",
        labels={"team": "platform"},
        schedule="0 2 * * *",
        timezone="Europe/Berlin",
        command="/opt/scripts/backup.sh",
        args=("--full",),
        env={"PGHOST": "db1"},
        enabled=True,
        paused=False,
        timeout=3600,
        grace_time=300,
        concurrency=Concurrency.FORBID,
        targets=Targets({"role": "db"}),
        api_version="crontopus.io/v1",
    )
    assert job.cron.hours == frozenset({2})
    assert job.active
    assert not job.is_discovered
    assert job.path == "backup/backup-database.yaml"


def test_it_fills_in_the_defaults_of_a_minimal_manifest() -> None:
    job = parse_manifest(MINIMAL)
    assert job.api_version == "v1"
    assert job.timezone == "UTC"
    assert job.labels == {}
    assert job.args == ()
    assert job.env == {}
    assert (job.enabled, job.paused, job.timeout, job.grace_time) == (True, False, None, 300)
    assert job.concurrency is Concurrency.ALLOW
    assert job.targets == Targets({})
    assert job.extra_spec == {}


def test_it_accepts_bytes() -> None:
    assert parse_manifest(MINIMAL.encode()) == parse_manifest(MINIMAL)


def test_it_reports_every_problem_of_a_file_at_once() -> None:
    text = """\
        apiVersion: crontopus.io/v2
        kind: CronJob
        metadata:
          id: not-a-uuid
          name: Backup DB
          namespace: ops
          labels: {team: 1}
        spec:
          schedul: "0 2 * * *"
          timezone: Europe/Berlinn
          command: ""
          args: [--days, 7]
          env: {1X: a, CRONTOPUS_JOB_ID: b}
          enabled: "yes"
          timeout: -5
          graceTime: 1h
          concurrency: Forbid
          targets: {label: {role: db}}
        """
    with pytest.raises(ManifestError) as caught:
        parse_manifest(textwrap.dedent(text), "jobs/backup/db.yaml", namespace="backup")
    paths = [problem.path for problem in caught.value.problems]
    assert paths == [
        "apiVersion",
        "kind",
        "metadata.id",
        "metadata.name",
        "metadata.namespace",
        "metadata.labels.team",
        "spec.schedul",
        "spec.schedule",
        "spec.timezone",
        "spec.command",
        "spec.args[1]",
        "spec.env.1X",
        "spec.env.CRONTOPUS_JOB_ID",
        "spec.enabled",
        "spec.timeout",
        "spec.graceTime",
        "spec.concurrency",
        "spec.targets.label",
    ]
    assert all(problem.file == "jobs/backup/db.yaml" for problem in caught.value.problems)
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    assert str(caught.value.problems[6]) == (
        'jobs/backup/db.yaml: spec.schedul: unknown field: did you mean "schedule"?'
    )


def test_the_error_names_the_file_the_field_and_the_fix() -> None:
    text = manifest_with(spec='schedule: "5/15 * * * *"')
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "jobs/backup/db.yaml")
    assert str(caught.value) == (
        'jobs/backup/db.yaml: spec.schedule: "5/15 * * * *" is not valid cron '
        '(a step needs a range or *: use "5-59/15")'
    )
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CrontopusError)


def test_a_valid_manifest_has_no_problems() -> None:
    assert manifest_problems(FULL, namespace="backup") == []


def test_a_problem_reads_file_path_message() -> None:
    assert str(Problem("a.yaml", "spec.x", "bad")) == "a.yaml: spec.x: bad"
    assert str(Problem(None, "spec.x", "bad")) == "spec.x: bad"
    assert str(Problem("a.yaml", "", "bad")) == "a.yaml: bad"


# --- the document as a whole ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "f.yaml: the file is empty: write a Job manifest (see docs/job-manifest-spec.md)"),
        ("# only a comment\n", "f.yaml: the file holds no YAML document: write a Job manifest"),
        ("- a\n- b\n", "f.yaml: a manifest must be a mapping of fields, not a list"),
        ("just text\n", "f.yaml: a manifest must be a mapping of fields, not a string"),
        (
            "kind: Job\n---\nkind: Job\n",
            "f.yaml: line 3: a second YAML document starts here: keep one job per file",
        ),
        (
            "spec:\n  schedule: */5 * * * *\n",
            "f.yaml: line 2, column 14: YAML syntax error: did not find expected alphabetic or "
            'numeric character (while scanning an alias): quote values that start with "*", "@", '
            '"&", "!" or "`", e.g. schedule: "*/5 * * * *"',
        ),
        (
            "spec:\n  schedule: @daily\n",
            "f.yaml: line 2, column 13: YAML syntax error: found character that cannot start any "
            'token (while scanning for the next token): quote values that start with "*", "@", '
            '"&", "!" or "`", e.g. schedule: "*/5 * * * *"',
        ),
    ],
)
def test_it_refuses_files_that_are_not_one_manifest(text: str, message: str) -> None:
    assert problems_of(text) == [message]


def test_it_refuses_text_that_is_not_utf8() -> None:
    assert problems_of(b"kind: \xff\n") == [
        "f.yaml: byte 6 is not UTF-8: save the file as UTF-8 text"
    ]


def test_it_refuses_a_key_written_twice() -> None:
    text = manifest_with(spec='schedule: "0 1 * * *"\nschedule: "0 2 * * *"')
    assert problems_of(text) == [
        'f.yaml: line 10: "schedule" appears twice in the same mapping: keep only one '
        "(YAML would silently use the last)"
    ]


def test_it_refuses_an_oversized_file() -> None:
    text = manifest_with(spec=f"args: [{', '.join(['x' * 100] * 700)}]")
    assert len(text.encode()) > MAX_MANIFEST_BYTES
    (problem,) = problems_of(text)
    assert f"more than the {MAX_MANIFEST_BYTES} a manifest may have" in problem


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("apiVersion", "f.yaml: apiVersion: is missing: add apiVersion: crontopus.io/v1"),
        ("kind", "f.yaml: kind: is missing: add kind: Job"),
    ],
)
def test_it_requires_the_header(drop: str, message: str) -> None:
    text = "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(drop))
    assert problems_of(text) == [message]


def test_it_requires_the_sections_and_their_fields() -> None:
    assert problems_of("apiVersion: v1\nkind: Job\n") == [
        "f.yaml: metadata: is missing: add a metadata section with id, name and namespace",
        "f.yaml: spec: is missing: add a spec section with at least schedule and command",
    ]
    assert problems_of("apiVersion: v1\nkind: Job\nmetadata: {}\nspec:\n") == [
        "f.yaml: spec: is empty: add a spec section with at least schedule and command",
        'f.yaml: metadata.id: is missing: add a UUID, e.g. the output of "crontopus jobs new-id"',
        'f.yaml: metadata.name: is missing: add a name such as "backup-database" '
        "(it becomes the file name)",
        "f.yaml: metadata.namespace: is missing: add the namespace, which is the name of the "
        "directory the file is in",
    ]
    assert problems_of(manifest_with().replace("  command: /bin/true\n", "")) == [
        "f.yaml: spec.command: is missing: add the program to run, e.g. /opt/scripts/backup.sh"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: Job\nmetadata: []\nspec: {}\n", "metadata: must be a mapping"),
        ("apiVersion: v1\nkind: Job\nmetadata: {}\nspec: x\n", "spec: must be a mapping"),
    ],
)
def test_sections_must_be_mappings(text: str, message: str) -> None:
    assert any(message in problem for problem in problems_of(text))


def test_unknown_fields_are_errors_with_a_hint() -> None:
    text = manifest_with(spec="timeZone: UTC\nnotes: {}", metadata="annotations: {}")
    text = text.replace("kind: Job", "kind: Job\nstatus: {}")
    assert problems_of(text) == [
        "f.yaml: status: unknown field: the fields here are apiVersion, kind, metadata, spec",
        "f.yaml: metadata.annotations: unknown field: the fields here are id, name, namespace, "
        "labels",
        'f.yaml: spec.timeZone: unknown field: did you mean "timezone"?',
        "f.yaml: spec.notes: unknown field: the fields here are schedule, timezone, command, "
        "args, env, enabled, paused, timeout, graceTime, concurrency, targets, alerts, systemd, "
        "taskScheduler",
    ]


def test_field_names_must_be_strings() -> None:
    text = manifest_with(spec="yes: 1")
    assert problems_of(text) == [
        "f.yaml: spec: field name True is true/false: field names are strings "
        "(quote it if YAML read it as true/false or a number)"
    ]


# --- apiVersion and kind ------------------------------------------------------------------------


def test_it_accepts_both_api_versions_and_keeps_the_one_written() -> None:
    assert parse_manifest(MINIMAL).api_version == "v1"
    assert parse_manifest(
        MINIMAL.replace("apiVersion: v1", "apiVersion: crontopus.io/v1")
    ).api_version == ("crontopus.io/v1")


def test_it_refuses_other_api_versions_and_kinds() -> None:
    text = MINIMAL.replace("apiVersion: v1", "apiVersion: batch/v1").replace(
        "kind: Job", "kind: job"
    )
    assert problems_of(text) == [
        'f.yaml: apiVersion: "batch/v1" is not supported: use crontopus.io/v1',
        'f.yaml: kind: "job" is not a kind Crontopus knows: use Job',
    ]


# --- metadata -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id",
    [
        JOB_ID,
        JOB_ID.upper(),
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # version 1
        "01890a5d-ac96-774b-bcce-b302099a8057",  # version 7
    ],
)
def test_it_accepts_any_rfc_uuid(job_id: str) -> None:
    assert parse_manifest(manifest_with(metadata=f"id: {job_id}")).id == uuid.UUID(job_id)


@pytest.mark.parametrize(
    ("job_id", "message"),
    [
        (
            "not-a-uuid",
            '"not-a-uuid" is not a UUID written as 8-4-4-4-12 hex digits: generate one with '
            '"crontopus jobs new-id" (any RFC 9562 UUID; version 4 is usual)',
        ),
        ("550e8400e29b41d4a716446655440000", "is not a UUID written as 8-4-4-4-12 hex digits"),
        ('"{550e8400-e29b-41d4-a716-446655440000}"', "is not a UUID written as 8-4-4-4-12"),
        ("00000000-0000-0000-0000-000000000000", "the nil and max UUIDs identify nothing"),
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", "the nil and max UUIDs identify nothing"),
        ("550e8400-e29b-41d4-c716-446655440000", "is not an RFC 9562 UUID (wrong variant bits)"),
        ("12345", "must be a string, not a number"),
    ],
)
def test_it_refuses_ids_that_are_not_uuids(job_id: str, message: str) -> None:
    (problem,) = problems_of(manifest_with(metadata=f"id: {job_id}"))
    assert problem.startswith("f.yaml: metadata.id: ")
    assert message in problem


@pytest.mark.parametrize("name", ["a", "backup-database", "db1", "1st-of-month", "x" * 63])
def test_it_accepts_dns_label_names(name: str) -> None:
    assert parse_manifest(manifest_with(metadata=f"name: {name}")).name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "Backup DB",
            'name "Backup DB" may only hold lowercase letters, digits and "-", and must start '
            'and end with a letter or digit: use "backup-db"',
        ),
        ("-backup", 'use "backup"'),
        ("backup-", 'use "backup"'),
        ("back_up", 'use "back-up"'),
        ("../etc/passwd", 'use "etc-passwd"'),
        ("x" * 64, "is 64 characters long: shorten it to at most 63"),
        ('""', "name is empty: use lowercase letters, digits and '-', e.g. \"backup\""),
        ("42", "name must be a string, not int"),
    ],
)
def test_it_refuses_names_that_cannot_be_file_names(name: str, message: str) -> None:
    (problem,) = problems_of(manifest_with(metadata=f"name: {name}"))
    assert problem.startswith("f.yaml: metadata.name: ")
    assert message in problem


def test_the_namespace_must_match_the_directory() -> None:
    text = manifest_with(namespace="backup")
    assert parse_manifest(text, namespace="backup").namespace == "backup"
    assert problems_of(text, namespace="ops") == [
        'f.yaml: metadata.namespace: "backup" does not match the directory "ops" the file is in: '
        "write namespace: ops, or move the file to backup/"
    ]
    assert problems_of(text) == []


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        ("system", 'namespace "system" is reserved for Crontopus itself: choose another name'),
        ("Backup", 'use "backup"'),
        ("a" * 64, "shorten it to at most 63"),
    ],
)
def test_it_refuses_bad_namespaces(namespace: str, message: str) -> None:
    problems = problems_of(manifest_with(namespace=namespace))
    assert len(problems) == 1
    assert problems[0].startswith("f.yaml: metadata.namespace: ")
    assert message in problems[0]


def test_labels_are_string_pairs_with_kubernetes_shapes() -> None:
    good = 'labels: {team: platform, tier: "1", example.com/owner: Ops_Team.2, empty: ""}'
    job = parse_manifest(manifest_with(metadata=good))
    assert job.labels == {
        "team": "platform",
        "tier": "1",
        "example.com/owner": "Ops_Team.2",
        "empty": "",
    }
    bad = 'labels: {tier: 1, on: x, "bad key": x, Example.com/x: y, k: "no spaces"}'
    assert problems_of(manifest_with(metadata=bad)) == [
        'f.yaml: metadata.labels.tier: must be a string, not a number: quote it, e.g. "1"',
        "f.yaml: metadata.labels: label key True is true/false: quote it",
        'f.yaml: metadata.labels.bad key: label key "bad key" may only hold letters, digits, '
        "'-', '_' and '.', starting and ending with a letter or digit",
        'f.yaml: metadata.labels.Example.com/x: label key "Example.com/x": the prefix before "/" '
        'must be a lowercase DNS name such as "example.com"',
        'f.yaml: metadata.labels.k: label value "no spaces" may only hold letters, digits, '
        "'-', '_' and '.', starting and ending with a letter or digit",
    ]
    assert problems_of(manifest_with(metadata="labels: [a]")) == [
        "f.yaml: metadata.labels: must be a mapping such as {team: platform}, not a list"
    ]


def test_the_number_of_labels_is_bounded() -> None:
    labels = ", ".join(f"k{i}: v" for i in range(MAX_LABELS + 1))
    (problem,) = problems_of(manifest_with(metadata=f"labels: {{{labels}}}"))
    assert f"has {MAX_LABELS + 1} labels, more than {MAX_LABELS}" in problem


def test_discovered_jobs_live_in_the_discovered_namespace_only() -> None:
    discovered = manifest_with(metadata="labels: {source: discovered}", namespace="discovered")
    job = parse_manifest(discovered, namespace="discovered")
    assert job.is_discovered
    assert problems_of(manifest_with(namespace="discovered")) == [
        'f.yaml: metadata.labels.source: jobs in namespace "discovered" are found on machines by '
        "the agent and carry source: discovered: put a job you write in another namespace"
    ]
    assert problems_of(manifest_with(metadata="labels: {source: discovered}")) == [
        'f.yaml: metadata.labels.source: "discovered" marks jobs in namespace "discovered" only: '
        "remove the label (adopting a job drops it)"
    ]


# --- spec ---------------------------------------------------------------------------------------


def test_the_schedule_is_checked_like_cron() -> None:
    assert problems_of(manifest_with(spec='schedule: "0 0 30 2 *"')) == [
        'f.yaml: spec.schedule: "0 0 30 2 *" never fires: no chosen day of month (30) exists in '
        "Feb; pick days that exist in those months"
    ]
    assert problems_of(manifest_with(spec="schedule: 5")) == [
        "f.yaml: spec.schedule: must be a string, not a number: "
        'quote it, e.g. schedule: "0 2 * * *"'
    ]
    assert parse_manifest(manifest_with(spec='schedule: "@reboot"')).cron.reboot


def test_the_timezone_must_be_a_known_zone() -> None:
    assert parse_manifest(manifest_with(spec="timezone: America/New_York")).timezone == (
        "America/New_York"
    )
    assert problems_of(manifest_with(spec="timezone: Europe/Berlinn")) == [
        'f.yaml: spec.timezone: unknown time zone "Europe/Berlinn": did you mean "Europe/Berlin"?'
    ]
    assert problems_of(manifest_with(spec="timezone: europe/berlin")) == [
        'f.yaml: spec.timezone: unknown time zone "europe/berlin": zone names are case-sensitive, '
        'use "Europe/Berlin"'
    ]
    assert problems_of(manifest_with(spec="timezone: localtime")) == [
        'f.yaml: spec.timezone: unknown time zone "localtime": use an IANA name such as '
        '"Europe/Berlin"'
    ]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ('" "', "spec.command: is blank: write the program to run"),
        ('"a\\nb"', "spec.command: holds a line break or control character: a command is one line"),
        ('"a\\u0000b"', "spec.command: holds a line break or control character"),
        ("[a, b]", "spec.command: must be a string, not a list: quote it"),
        (
            "x" * (MAX_COMMAND_LENGTH + 1),
            f"is {MAX_COMMAND_LENGTH + 1} characters long, more than {MAX_COMMAND_LENGTH}",
        ),
    ],
)
def test_the_command_is_one_bounded_line(command: str, message: str) -> None:
    (problem,) = problems_of(manifest_with(spec=f"command: {command}"))
    assert message in problem


def test_a_command_may_hold_shell_text_and_tabs() -> None:
    command = "'pg_dump app | gzip > /backup/app-$(date +%F).sql.gz\tx'"
    job = parse_manifest(manifest_with(spec=f"command: {command}"))
    assert job.command == "pg_dump app | gzip > /backup/app-$(date +%F).sql.gz\tx"


def test_args_are_a_list_of_strings() -> None:
    job = parse_manifest(manifest_with(spec='args: ["--days", "7", "", "a b"]'))
    assert job.args == ("--days", "7", "", "a b")
    assert problems_of(manifest_with(spec="args: [--days, 7, true]")) == [
        'f.yaml: spec.args[1]: must be a string, not a number: quote it, e.g. "7"',
        'f.yaml: spec.args[2]: must be a string, not true/false: quote it, e.g. "true"',
    ]
    assert problems_of(manifest_with(spec="args: --full")) == [
        'f.yaml: spec.args: must be a list such as ["--full"], not a string'
    ]
    too_many = ", ".join(["a"] * (MAX_ARGS + 1))
    (problem,) = problems_of(manifest_with(spec=f"args: [{too_many}]"))
    assert f"has {MAX_ARGS + 1} arguments, more than {MAX_ARGS}" in problem


def test_empty_and_nested_values_are_not_strings() -> None:
    assert problems_of(manifest_with(spec="env: {A: , B: [x], C: {d: e}}")) == [
        'f.yaml: spec.env.A: must be a string, not empty (null): write "" for an empty value',
        "f.yaml: spec.env.B: must be a string, not a list",
        "f.yaml: spec.env.C: must be a string, not a mapping "
        "(or {secretRef: NAME} to take the value from a secret)",
    ]


def test_env_names_are_shell_identifiers_and_values_strings() -> None:
    job = parse_manifest(manifest_with(spec='env: {PGHOST: db1, _X1: "", LINES: "a\\nb"}'))
    assert job.env == {"PGHOST": "db1", "_X1": "", "LINES": "a\nb"}
    bad = 'env: {1X: a, A-B: b, CRONTOPUS_JOB_ID: c, crontopus_x: d, PORT: 5432, "": e}'
    assert problems_of(manifest_with(spec=bad)) == [
        'f.yaml: spec.env.1X: "1X" is not a shell variable name: use letters, digits and "_", '
        "not starting with a digit",
        'f.yaml: spec.env.A-B: "A-B" is not a shell variable name: use letters, digits and "_", '
        "not starting with a digit",
        "f.yaml: spec.env.CRONTOPUS_JOB_ID: names starting with CRONTOPUS_ are set by Crontopus: "
        "rename it",
        "f.yaml: spec.env.crontopus_x: names starting with CRONTOPUS_ are set by Crontopus: "
        "rename it",
        'f.yaml: spec.env.PORT: must be a string, not a number: quote it, e.g. "5432"',
        'f.yaml: spec.env.: "" is not a shell variable name: use letters, digits and "_", '
        "not starting with a digit",
    ]
    many = ", ".join(f"V{i}: x" for i in range(MAX_ENV_ENTRIES + 1))
    (problem,) = problems_of(manifest_with(spec=f"env: {{{many}}}"))
    assert f"more than {MAX_ENV_ENTRIES}" in problem


@pytest.mark.parametrize("field", ["enabled", "paused"])
def test_switches_are_true_or_false(field: str) -> None:
    assert getattr(parse_manifest(manifest_with(spec=f"{field}: no")), field) is False
    assert getattr(parse_manifest(manifest_with(spec=f"{field}: true")), field) is True
    assert problems_of(manifest_with(spec=f'{field}: "true"')) == [
        f"f.yaml: spec.{field}: must be true or false (unquoted), not a string"
    ]


def test_paused_or_disabled_jobs_are_not_active() -> None:
    assert not parse_manifest(manifest_with(spec="paused: true")).active
    assert not parse_manifest(manifest_with(spec="enabled: false")).active


@pytest.mark.parametrize("field", ["timeout", "graceTime"])
def test_durations_are_positive_whole_seconds(field: str) -> None:
    assert problems_of(manifest_with(spec=f"{field}: 1")) == []
    assert problems_of(manifest_with(spec=f"{field}: 2678400")) == []
    for value, message in [
        ("0", "0 is out of range: use 1 to 2678400 seconds (31 days)"),
        ("-5", "-5 is out of range: use 1 to 2678400 seconds (31 days)"),
        ("2678401", "2678401 is out of range: use 1 to 2678400 seconds (31 days)"),
        ("1.5", "must be a whole number of seconds such as 3600, not a number"),
        ("true", "must be a whole number of seconds such as 3600, not true/false"),
        (
            "1h",
            'must be a whole number of seconds such as 3600, not a string (units such as "1h" '
            "are not supported)",
        ),
    ]:
        assert problems_of(manifest_with(spec=f"{field}: {value}")) == [
            f"f.yaml: spec.{field}: {message}"
        ]


def test_timeout_and_grace_time_land_in_the_manifest() -> None:
    job = parse_manifest(manifest_with(spec="timeout: 60\ngraceTime: 900"))
    assert (job.timeout, job.grace_time) == (60, 900)
    assert parse_manifest(manifest_with(spec="timeout: null")).timeout is None


def test_concurrency_is_allow_or_forbid() -> None:
    assert (
        parse_manifest(manifest_with(spec="concurrency: forbid")).concurrency is Concurrency.FORBID
    )
    assert parse_manifest(manifest_with(spec="concurrency: allow")).concurrency is Concurrency.ALLOW
    assert problems_of(manifest_with(spec="concurrency: Forbid")) == [
        'f.yaml: spec.concurrency: "Forbid" is not a concurrency policy: use forbid (lowercase)'
    ]
    assert problems_of(manifest_with(spec="concurrency: replace")) == [
        'f.yaml: spec.concurrency: "replace" is not a concurrency policy: use allow or forbid'
    ]


def test_targets_select_endpoints_by_labels() -> None:
    job = parse_manifest(manifest_with(spec="targets: {labels: {role: db, env: prod}}"))
    assert job.targets.matches({"role": "db", "env": "prod", "zone": "a"})
    assert not job.targets.matches({"role": "db"})
    assert not job.targets.matches({"role": "web", "env": "prod"})
    everywhere = parse_manifest(manifest_with())
    assert everywhere.targets.matches({})
    assert everywhere.targets.matches({"role": "anything"})
    assert problems_of(manifest_with(spec="targets: {labels: {role: 1}, hosts: [a]}")) == [
        "f.yaml: spec.targets.hosts: unknown field: the fields here are labels",
        'f.yaml: spec.targets.labels.role: must be a string, not a number: quote it, e.g. "1"',
    ]
    assert problems_of(manifest_with(spec="targets: [db]")) == [
        "f.yaml: spec.targets: must be a mapping of fields, not a list"
    ]


# --- writing manifests back ---------------------------------------------------------------------


def test_dumping_gives_canonical_yaml_in_the_design_order() -> None:
    job = parse_manifest(FULL)
    assert dump_manifest(job) == textwrap.dedent(
        f"""\
        apiVersion: crontopus.io/v1
        kind: Job
        metadata:
          id: {JOB_ID}
          name: backup-database
          namespace: backup
          labels:
            team: platform
        spec:
          schedule: "0 2 * * *"
          timezone: Europe/Berlin
          command: /opt/scripts/backup.sh
          args:
          - --full
          env:
            PGHOST: db1
          enabled: true
          paused: false
          timeout: 3600
          graceTime: 300
          concurrency: forbid
          targets:
            labels:
              role: db
        """
    )


def test_dumping_omits_empty_optional_fields_and_keeps_the_defaults_visible() -> None:
    assert dump_manifest(parse_manifest(MINIMAL)) == textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Job
        metadata:
          id: {JOB_ID}
          name: tick
          namespace: default
        spec:
          schedule: "@hourly"
          timezone: UTC
          command: /bin/true
          enabled: true
          paused: false
          graceTime: 300
          concurrency: allow
        """
    )


TRICKY_VALUES = ["yes", "no", "1", "1.10", "null", "~", "", "0x1F", "a: b", "#x", "*", "@x", "é ü"]


def test_parsing_a_dump_gives_the_same_manifest_even_for_tricky_strings() -> None:
    job = JobManifest(
        id=uuid.uuid4(),
        name="tricky",
        namespace="default",
        labels={"a": "true", "b": "1", "c": ""},
        schedule="*/5 * * * *",
        timezone="America/Argentina/Buenos_Aires",
        command="echo '%s' \"$HOME\" # not a comment",
        args=tuple(TRICKY_VALUES),
        env={f"V{i}": value for i, value in enumerate([*TRICKY_VALUES, "two\nlines"])},
        enabled=False,
        paused=True,
        timeout=5,
        grace_time=60,
        concurrency=Concurrency.FORBID,
        targets=Targets({"role": "db"}),
    )
    text = dump_manifest(job)
    assert parse_manifest(text) == job
    assert dump_manifest(parse_manifest(text)) == text


def test_the_dump_is_stable_whatever_the_input_order() -> None:
    one = parse_manifest(manifest_with(metadata="labels: {b: x, a: y}", spec="env: {B: x, A: y}"))
    two = parse_manifest(manifest_with(metadata="labels: {a: y, b: x}", spec="env: {A: y, B: x}"))
    assert dump_manifest(one) == dump_manifest(two)


def test_manifest_to_dict_is_plain_data() -> None:
    data = manifest_to_dict(parse_manifest(FULL))
    assert data["metadata"]["id"] == JOB_ID
    assert data["spec"]["concurrency"] == "forbid"
    assert type(data["spec"]["concurrency"]) is str
    assert list(data["spec"]) == [
        "schedule",
        "timezone",
        "command",
        "args",
        "env",
        "enabled",
        "paused",
        "timeout",
        "graceTime",
        "concurrency",
        "targets",
    ]
    assert manifest_from_dict(data) == parse_manifest(FULL)


def test_manifest_from_dict_reports_problems_like_the_yaml_parser() -> None:
    with pytest.raises(ManifestError) as caught:
        manifest_from_dict({"apiVersion": "v1", "kind": "Job", "metadata": {}, "spec": {}}, "api")
    assert [p.path for p in caught.value.problems] == [
        "metadata.id",
        "metadata.name",
        "metadata.namespace",
        "spec.schedule",
        "spec.command",
    ]


# --- files and paths ----------------------------------------------------------------------------


def test_a_job_lives_at_namespace_slash_name_yaml() -> None:
    assert manifest_path("backup", "backup-database") == "backup/backup-database.yaml"
    assert split_manifest_path("backup/backup-database.yaml") == ("backup", "backup-database")
    assert split_manifest_path("backup/nested/x.yaml") is None
    assert split_manifest_path("README.md") is None
    assert split_manifest_path("backup/x.yml") is None
    with pytest.raises(ValueError, match="reserved"):
        manifest_path("system", "x")
    with pytest.raises(ValueError, match="name"):
        manifest_path("backup", "../x")


def test_path_problems_point_at_a_misplaced_file() -> None:
    job = parse_manifest(FULL)
    assert path_problems("backup/backup-database.yaml", job) == []
    (problem,) = path_problems("backup/db.yaml", job)
    assert str(problem) == (
        'backup/db.yaml: metadata.name: a job named "backup-database" in namespace "backup" '
        'belongs in "backup/backup-database.yaml": move the file or change the name'
    )


def test_a_manifest_is_an_immutable_hashable_value() -> None:
    job = parse_manifest(FULL)
    assert {job: 1}[parse_manifest(FULL)] == 1
    with pytest.raises(AttributeError):
        job.name = "x"  # type: ignore[misc]
