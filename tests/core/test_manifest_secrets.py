"""Secret references in spec.env, their canonical form, and the warnings about secrets in Git."""

from __future__ import annotations

import pytest

from crontopus.core.manifest import dump_manifest, parse_manifest
from crontopus.core.secrets import (
    MAX_SECRET_NAME_LENGTH,
    looks_secret,
    manifest_warnings,
    secret_name_problem,
)
from tests.core.test_manifest import manifest_with, problems_of


def test_the_list_form_sets_values_and_references_secrets() -> None:
    job = parse_manifest(
        manifest_with(
            spec="env: [{name: DB_PASSWORD, secretRef: db-password}, {name: PGHOST, value: db1}]"
        )
    )
    assert job.env == {"PGHOST": "db1"}
    assert job.secret_env == {"DB_PASSWORD": "db-password"}


def test_the_mapping_form_references_a_secret_with_a_secret_ref_value() -> None:
    job = parse_manifest(manifest_with(spec="env: {PGHOST: db1, DB_PASSWORD: {secretRef: db-pw}}"))
    assert job.env == {"PGHOST": "db1"}
    assert job.secret_env == {"DB_PASSWORD": "db-pw"}


def test_both_forms_read_the_same_and_the_canonical_form_round_trips() -> None:
    listed = parse_manifest(
        manifest_with(spec="env: [{name: B, value: x}, {name: A, secretRef: a.key}]")
    )
    mapped = parse_manifest(manifest_with(spec="env: {A: {secretRef: a.key}, B: x}"))
    assert listed == mapped
    text = dump_manifest(listed)
    assert "- name: A\n    secretRef: a.key\n  - name: B\n    value: x\n" in text
    assert parse_manifest(text) == listed


def test_a_manifest_without_references_keeps_the_mapping_form() -> None:
    job = parse_manifest(manifest_with(spec="env: [{name: B, value: x}, {name: A, value: y}]"))
    assert "  env:\n    A: y\n    B: x\n" in dump_manifest(job)


def test_bad_entries_say_how_to_fix_them() -> None:
    spec = """\
env:
  - {name: A, value: x, secretRef: y}
  - {name: B}
  - {value: x}
  - {name: C, secretRef: "bad name"}
  - {name: D, secretRef: 7}
  - {name: E, valu: x}
  - {name: G, value: x}
  - {name: G, secretRef: again}
  - just-a-string
"""
    assert problems_of(manifest_with(spec=spec)) == [
        "f.yaml: spec.env[0]: give either value or secretRef (the name of a secret), "
        "not both or neither",
        "f.yaml: spec.env[1]: give either value or secretRef (the name of a secret), "
        "not both or neither",
        "f.yaml: spec.env[2].name: is missing: add the variable's name, e.g. name: PGHOST",
        'f.yaml: spec.env[3].secretRef: "bad name" is not a secret name: use 1-63 letters, '
        'digits, ".", "_" or "-", starting with a letter or digit',
        "f.yaml: spec.env[4].secretRef: must be a string, not a number: "
        "write the name of a secret, e.g. db-password",
        'f.yaml: spec.env[5].valu: unknown field: did you mean "value"?',
        "f.yaml: spec.env[5]: give either value or secretRef (the name of a secret), "
        "not both or neither",
        "f.yaml: spec.env[8]: must be a mapping of fields, not a string",
        "f.yaml: spec.env[7]: G is set twice: keep one entry",
    ]


def test_a_mapping_value_other_than_a_secret_ref_is_refused() -> None:
    assert problems_of(manifest_with(spec="env: {A: {secretRef: ok, extra: 1}}")) == [
        "f.yaml: spec.env.A.extra: unknown field: the fields here are secretRef"
    ]


def test_reserved_names_are_refused_for_secret_references_too() -> None:
    assert problems_of(manifest_with(spec="env: [{name: CRONTOPUS_X, secretRef: s}]")) == [
        "f.yaml: spec.env[0]: names starting with CRONTOPUS_ are set by Crontopus: rename it"
    ]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("github_token", True),
        ("CLIENT_SECRET_ID", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("API_KEY", True),
        ("PGHOST", False),
        ("KEYBOARD", False),
        ("MONKEY", False),
    ],
)
def test_names_like_secrets_are_recognised(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_a_literal_value_under_a_secret_looking_name_is_a_warning_not_an_error() -> None:
    text = manifest_with(spec='env: {DB_PASSWORD: hunter2, API_KEY: "", PGHOST: db1}')
    job = parse_manifest(text)
    (warning,) = manifest_warnings(job, "f.yaml")
    assert str(warning) == (
        "f.yaml: spec.env.DB_PASSWORD: looks like a secret but its value is written in the "
        "manifest, where Git keeps it in every clone and diff: store it with `crontopus secrets "
        "set db-password` and write {name: DB_PASSWORD, secretRef: db-password} instead"
    )


def test_references_to_missing_secrets_warn_only_when_the_secret_names_are_known() -> None:
    job = parse_manifest(manifest_with(spec="env: {A: {secretRef: here}, B: {secretRef: gone}}"))
    assert manifest_warnings(job) == []
    (warning,) = manifest_warnings(job, known={"here"})
    assert warning.path == "spec.env.B"
    assert 'secret "gone" does not exist' in warning.message


@pytest.mark.parametrize(
    "name", ["db-password", "A.b_c-9", "x", "9lives", "a" * MAX_SECRET_NAME_LENGTH]
)
def test_secret_names_accept_letters_digits_dots_underscores_and_dashes(name: str) -> None:
    assert secret_name_problem(name) is None


@pytest.mark.parametrize(
    "name", ["", "-x", ".x", "a b", "a/b", "é", "a" * (MAX_SECRET_NAME_LENGTH + 1)]
)
def test_other_secret_names_are_refused(name: str) -> None:
    assert secret_name_problem(name) is not None
