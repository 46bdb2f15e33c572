"""Checks of the individual manifest fields; each records its problems and returns a usable value.

A check never stops at the first problem, so one pass over a file finds all of them. On a problem
it returns a harmless placeholder; the manifest is only built when no problem was recorded.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final

from crontopus.core.enums import Concurrency
from crontopus.core.labels import label_key_problem, label_value_problem
from crontopus.core.limits import (
    MAX_ARG_LENGTH,
    MAX_ARGS,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_NAME_LENGTH,
    MAX_ENV_VALUE_LENGTH,
    MAX_LABELS,
    MAX_SECONDS,
)
from crontopus.core.namespaces import namespace_problem, slug_problem
from crontopus.core.problems import Checker, describe_type, join_path
from crontopus.core.secrets import secret_name_problem
from crontopus.core.timezones import timezone_problem

#: Variables the run wrapper sets for the job; a manifest may not override them.
RESERVED_ENV_PREFIX: Final = "CRONTOPUS_"
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NIL_UUIDS: Final = frozenset({uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)})
_PLACEHOLDER_ID: Final = uuid.UUID(int=0)
_NEW_UUID_HINT: Final = (
    'generate one with "crontopus jobs new-id" (any RFC 9562 UUID; version 4 is usual)'
)


def check_api_version(value: object, c: Checker, supported: tuple[str, ...]) -> str:
    """Return the apiVersion when Crontopus supports it."""
    if value is None:
        return supported[0]
    text = c.string(value, "apiVersion")
    if text is not None and text not in supported:
        c.add("apiVersion", f'"{text}" is not supported: use {supported[0]}')
    return text or supported[0]


def check_kind(value: object, c: Checker, kind: str) -> None:
    """Check that the document is a Job."""
    if value is None:
        return
    text = c.string(value, "kind")
    if text is not None and text != kind:
        c.add("kind", f'"{text}" is not a kind Crontopus knows: use {kind}')


def check_job_id(value: object, c: Checker) -> uuid.UUID:
    """Return metadata.id as a UUID."""
    path = "metadata.id"
    if value is None:
        return _PLACEHOLDER_ID
    text = c.string(value, path, hint=_NEW_UUID_HINT)
    if text is None:
        return _PLACEHOLDER_ID
    if not _UUID.fullmatch(text):
        c.add(
            path, f'"{text[:60]}" is not a UUID written as 8-4-4-4-12 hex digits: {_NEW_UUID_HINT}'
        )
        return _PLACEHOLDER_ID
    job_id = uuid.UUID(text)
    if job_id in _NIL_UUIDS:
        c.add(path, f"the nil and max UUIDs identify nothing: {_NEW_UUID_HINT}")
    elif job_id.variant != uuid.RFC_4122:
        c.add(path, f'"{text}" is not an RFC 9562 UUID (wrong variant bits): {_NEW_UUID_HINT}')
    return job_id


def check_name(value: object, c: Checker) -> str:
    """Return metadata.name, a lowercase DNS label because it becomes the file name."""
    if value is None:
        return ""
    problem = slug_problem(value, "name")
    if problem is not None:
        c.add("metadata.name", problem)
        return ""
    return str(value)


def check_namespace(value: object, c: Checker, directory: str | None) -> str:
    """Return metadata.namespace, checked against the directory the file is in."""
    path = "metadata.namespace"
    if value is None:
        return ""
    text = c.string(value, path)
    if text is None:
        return ""
    problem = namespace_problem(text)
    if problem is not None:
        c.add(path, problem)
    elif directory is not None and text != directory:
        c.add(
            path,
            f'"{text}" does not match the directory "{directory}" the file is in: '
            f"write namespace: {directory}, or move the file to {text}/",
        )
    return text


def check_labels(value: object, c: Checker, path: str) -> dict[str, str]:
    """Return a label mapping (metadata.labels or spec.targets.labels)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        c.add(path, f"must be a mapping such as {{team: platform}}, not {describe_type(value)}")
        return {}
    if len(value) > MAX_LABELS:
        c.add(path, f"has {len(value)} labels, more than {MAX_LABELS}: keep the ones you select by")
    labels: dict[str, str] = {}
    for key, label in value.items():
        if not isinstance(key, str):
            c.add(path, f"label key {key!r} is {describe_type(key)}: quote it")
            continue
        where = join_path(path, key)
        problem = label_key_problem(key)
        if problem is not None:
            c.add(where, problem)
        if not isinstance(label, str):
            c.add(where, _not_a_string(label))
            continue
        problem = label_value_problem(label)
        if problem is not None:
            c.add(where, problem)
        labels[key] = label
    return labels


def check_timezone(value: object, c: Checker, default: str) -> str:
    """Return spec.timezone (the default when absent)."""
    if value is None:
        return default
    problem = timezone_problem(value)
    if problem is not None:
        c.add("spec.timezone", problem)
        return default
    return str(value)


def check_command(value: object, c: Checker) -> str:
    """Return spec.command: one line of text, bounded in length."""
    path = "spec.command"
    if value is None:
        return ""
    text = c.string(value, path)
    if text is None:
        return ""
    if not text.strip():
        c.add(path, "is blank: write the program to run, e.g. /opt/scripts/backup.sh")
    elif len(text) > MAX_COMMAND_LENGTH:
        c.add(
            path,
            f"is {len(text)} characters long, more than {MAX_COMMAND_LENGTH}: "
            "put the script in a file and run that file",
        )
    elif _has_control_characters(text):
        c.add(
            path,
            "holds a line break or control character: a command is one line; "
            "put longer scripts in a file and run that file",
        )
    return text


def check_args(value: object, c: Checker) -> tuple[str, ...]:
    """Return spec.args: a list of strings."""
    path = "spec.args"
    if value is None:
        return ()
    if not isinstance(value, list):
        c.add(path, f'must be a list such as ["--full"], not {describe_type(value)}')
        return ()
    if len(value) > MAX_ARGS:
        c.add(path, f"has {len(value)} arguments, more than {MAX_ARGS}: pass a file instead")
    args: list[str] = []
    for index, arg in enumerate(value):
        where = join_path(path, index)
        if not isinstance(arg, str):
            c.add(where, _not_a_string(arg))
        elif len(arg) > MAX_ARG_LENGTH:
            c.add(where, f"is {len(arg)} characters long, more than {MAX_ARG_LENGTH}")
        elif "\0" in arg:
            c.add(where, "holds a NUL character, which no program can receive: remove it")
        else:
            args.append(arg)
    return tuple(args)


def check_env(value: object, c: Checker) -> tuple[dict[str, str], dict[str, str]]:
    """Return spec.env as (literal values, secret references), both keyed by variable name.

    Two forms are accepted: a mapping `{PGHOST: db1, DB_PASSWORD: {secretRef: db-password}}`
    and a list `[{name: PGHOST, value: db1}, {name: DB_PASSWORD, secretRef: db-password}]`.
    """
    path = "spec.env"
    env: dict[str, str] = {}
    secret_env: dict[str, str] = {}
    if value is None:
        return env, secret_env
    if isinstance(value, dict):
        entries: list[tuple[object, object, str]] = [
            (key, variable, join_path(path, key) if isinstance(key, str) else path)
            for key, variable in value.items()
        ]
    elif isinstance(value, list):
        entries = [_env_item(item, join_path(path, index), c) for index, item in enumerate(value)]
    else:
        c.add(
            path,
            "must be a mapping such as {PGHOST: db1} or a list such as "
            f"[{{name: PGHOST, value: db1}}], not {describe_type(value)}",
        )
        return env, secret_env
    if len(value) > MAX_ENV_ENTRIES:
        c.add(path, f"has {len(value)} variables, more than {MAX_ENV_ENTRIES}: use a file")
    for key, variable, where in entries:
        if key is _SKIP:
            continue
        if not isinstance(key, str):
            c.add(where, f"variable name {key!r} is {describe_type(key)}: use a name like PGHOST")
            continue
        if key in env or key in secret_env:
            c.add(where, f"{key} is set twice: keep one entry")
            continue
        if not _ENV_NAME.fullmatch(key) or len(key) > MAX_ENV_NAME_LENGTH:
            c.add(
                where,
                f'"{key[:60]}" is not a shell variable name: use letters, digits and "_", '
                "not starting with a digit",
            )
        elif key.upper().startswith(RESERVED_ENV_PREFIX):
            c.add(
                where, f"names starting with {RESERVED_ENV_PREFIX} are set by Crontopus: rename it"
            )
        if isinstance(variable, _SecretRef):
            secret_env[key] = variable.name
        elif isinstance(variable, dict):
            reference = _secret_ref(variable, where, c)
            if reference is not None:
                secret_env[key] = reference
        elif not isinstance(variable, str):
            c.add(where, _not_a_string(variable))
        elif len(variable) > MAX_ENV_VALUE_LENGTH:
            c.add(where, f"is {len(variable)} characters long, more than {MAX_ENV_VALUE_LENGTH}")
        elif "\0" in variable:
            c.add(where, "holds a NUL character, which the environment cannot carry: remove it")
        else:
            env[key] = variable
    return env, secret_env


_OR_SECRET_REF: Final = " (or {secretRef: NAME} to take the value from a secret)"
_ENV_ITEM_FIELDS: Final = ("name", "value", "secretRef")
#: An entry of the list form already reported; it is left out of the result.
_SKIP: Final = object()


class _SecretRef(str):
    """A list entry's secretRef, told apart from a literal value."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return str(self)


def _env_item(item: object, where: str, c: Checker) -> tuple[object, object, str]:
    """Read one entry of the list form as (variable name, value or _SecretRef, path)."""
    entry = c.mapping(
        item,
        where,
        known=_ENV_ITEM_FIELDS,
        required={"name": "add the variable's name, e.g. name: PGHOST"},
    )
    if entry is None or entry.get("name") is None:
        return _SKIP, None, where
    name = entry["name"]
    has_value, has_ref = "value" in entry, "secretRef" in entry
    if has_value == has_ref:
        c.add(where, "give either value or secretRef (the name of a secret), not both or neither")
        return _SKIP, None, where
    if has_value:
        return name, entry["value"], where
    reference = _secret_name(entry["secretRef"], join_path(where, "secretRef"), c)
    return (name, _SecretRef(reference), where) if reference is not None else (_SKIP, None, where)


def _secret_ref(value: dict[Any, Any], where: str, c: Checker) -> str | None:
    """Read a mapping-form value `{secretRef: NAME}`; record a problem for anything else."""
    if "secretRef" not in value:
        c.add(where, f"must be a string, not a mapping{_OR_SECRET_REF}")
        return None
    entry = c.mapping(value, where, known=("secretRef",), required={})
    if entry is None:
        return None
    return _secret_name(entry["secretRef"], join_path(where, "secretRef"), c)


def _secret_name(value: object, where: str, c: Checker) -> str | None:
    name = c.string(value, where, hint="write the name of a secret, e.g. db-password")
    if name is None:
        return None
    problem = secret_name_problem(name)
    if problem is not None:
        c.add(where, problem)
        return None
    return name


def check_boolean(value: object, c: Checker, path: str, *, default: bool) -> bool:
    """Return a true/false field (the default when absent)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        c.add(path, f"must be true or false (unquoted), not {describe_type(value)}")
        return default
    return value


def check_seconds(value: object, c: Checker, path: str, *, default: int | None) -> int | None:
    """Return a duration in whole seconds, 1 to MAX_SECONDS (the default when absent)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        hint = ' (units such as "1h" are not supported)' if isinstance(value, str) else ""
        c.add(
            path,
            f"must be a whole number of seconds such as 3600, not {describe_type(value)}{hint}",
        )
        return default
    if not 1 <= value <= MAX_SECONDS:
        c.add(path, f"{value} is out of range: use 1 to {MAX_SECONDS} seconds (31 days)")
        return default
    return value


def check_concurrency(value: object, c: Checker) -> Concurrency:
    """Return spec.concurrency: allow or forbid."""
    path = "spec.concurrency"
    if value is None:
        return Concurrency.ALLOW
    choices = " or ".join(choice.value for choice in Concurrency)
    text = c.string(value, path, hint=f"use {choices}")
    if text is None:
        return Concurrency.ALLOW
    try:
        return Concurrency(text)
    except ValueError:
        fix = (
            f"use {text.lower()} (lowercase)"
            if text.lower() in set(Concurrency)
            else f"use {choices}"
        )
        c.add(path, f'"{text}" is not a concurrency policy: {fix}')
        return Concurrency.ALLOW


def _not_a_string(value: object) -> str:
    if value is None:
        return 'must be a string, not empty (null): write "" for an empty value'
    if isinstance(value, bool | int | float):
        # YAML read it as true/false or a number: the quoted spelling keeps what was written.
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        return f'must be a string, not {describe_type(value)}: quote it, e.g. "{shown}"'
    return f"must be a string, not {describe_type(value)}"


def _has_control_characters(text: str) -> bool:
    return any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in text)
