"""Problems found in a document, and the reader that collects them while checking types."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (file and field path) and what to do about it."""

    file: str | None
    path: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.path, self.message) if part)


def join_path(parent: str, key: str | int) -> str:
    """Return the field path of `key` below `parent` ("spec" + "env" -> "spec.env")."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def describe_type(value: object) -> str:
    """Name the YAML type of a loaded value, the way a manifest author thinks of it."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


class Checker:
    """Collect problems of one file while reading typed values out of it."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        """Record one problem at `path`."""
        self.problems.append(Problem(self.file, path, message))

    def mapping(
        self,
        value: object,
        path: str,
        *,
        known: Sequence[str],
        required: dict[str, str],
    ) -> dict[str, Any] | None:
        """Return `value` as a mapping after checking its keys; record problems otherwise.

        `required` maps each required key to the hint shown when it is missing.
        """
        if not isinstance(value, dict):
            what = (
                "must be a mapping of fields" if path else "a manifest must be a mapping of fields"
            )
            self.add(path, f"{what}, not {describe_type(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.add(
                    path,
                    f"field name {key!r} is {describe_type(key)}: field names are strings "
                    "(quote it if YAML read it as true/false or a number)",
                )
            elif key not in known:
                self.add(join_path(path, key), unknown_field_message(key, known))
        for key, hint in required.items():
            if value.get(key) is None:
                state = "is empty" if key in value else "is missing"
                self.add(join_path(path, key), f"{state}: {hint}")
        return value

    def string(self, value: object, path: str, *, hint: str = "") -> str | None:
        """Return `value` when it is a string; record a problem otherwise."""
        if isinstance(value, str):
            return value
        fix = hint or "quote it"
        self.add(path, f"must be a string, not {describe_type(value)}: {fix}")
        return None


def unknown_field_message(key: str, known: Sequence[str]) -> str:
    """Say that `key` is not a field here, with the closest known field as a hint."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
    folded = {name.casefold(): name for name in known}.get(key.casefold())
    if folded is not None:
        close = [folded]
    if close:
        return f'unknown field: did you mean "{close[0]}"?'
    return f"unknown field: the fields here are {', '.join(known)}"
