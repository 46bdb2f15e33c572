"""`KeyValue`: labels and environment variables as GraphQL lists, shared by jobs and endpoints."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry


@strawberry.type(description="A key and its value (labels, environment variables).")
class KeyValue:
    key: str
    value: str


@strawberry.input(description="A key and its value (labels, environment variables).")
class KeyValueInput:
    key: str
    value: str


def key_values(mapping: Mapping[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=v) for k, v in sorted(mapping.items())]
