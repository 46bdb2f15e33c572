"""Relay-style connections with opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError

from crontopus.server.db.search import search_text
from crontopus.server.errors import ValidationFailed

Node = TypeVar("Node")
Row = TypeVar("Row")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    node: Node
    cursor: str


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Node]:
        return [edge.node for edge in self.edges]


def encode_cursor(*parts: str) -> str:
    """Encode a keyset position (the sort key of the last row) as an opaque cursor."""
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> tuple[str, ...] | None:
    """Decode a cursor made by `encode_cursor`; a tampered one is a clear error."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded))
        if (
            not isinstance(parts, list)
            or len(parts) != arity
            or not all(isinstance(p, str) for p in parts)
        ):
            raise ValueError(cursor)
        return tuple(parts)
    except (ValueError, TypeError, binascii.Error):
        raise GraphQLError(
            f"after: {cursor!r} is not a cursor from this API (pass a pageInfo.endCursor)",
            extensions={"code": "BAD_USER_INPUT"},
        ) from None


def decode_name_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    """Decode a (name, id) cursor."""
    parts = decode_cursor(cursor, 2)
    if parts is None:
        return None
    try:
        return parts[0], uuid.UUID(parts[1])
    except ValueError:
        raise GraphQLError(
            f"after: {cursor!r} is not a cursor from this API (pass a pageInfo.endCursor)",
            extensions={"code": "BAD_USER_INPUT"},
        ) from None


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Decode a (time, id) cursor."""
    parts = decode_cursor(cursor, 2)
    if parts is None:
        return None
    try:
        return datetime.fromisoformat(parts[0]), uuid.UUID(parts[1])
    except ValueError:
        raise GraphQLError(
            f"after: {cursor!r} is not a cursor from this API (pass a pageInfo.endCursor)",
            extensions={"code": "BAD_USER_INPUT"},
        ) from None


def page_size(first: int, maximum: int) -> int:
    """Check `first` against the page-size cap."""
    if not 1 <= first <= maximum:
        raise GraphQLError(
            f"first: must be between 1 and {maximum} (got {first}); page with `after`",
            extensions={"code": "BAD_USER_INPUT"},
        )
    return first


def search_argument(value: str | None, name: str) -> str | None:
    """Check a list's search text against its bound (None when empty)."""
    try:
        return search_text(value, name)
    except ValidationFailed as error:
        raise GraphQLError(error.message, extensions={"code": "BAD_USER_INPUT"}) from None


def time_key(moment: str) -> Callable[[Any], tuple[str, str]]:
    """The cursor key of rows paged by (`moment`, id), as `db.keyset.newest_first` pages them."""

    def key(row: Any) -> tuple[str, str]:
        return getattr(row, moment).isoformat(), str(row.id)

    return key


def build_connection(
    rows: Sequence[Row],
    first: int,
    to_node: Callable[[Row], Node],
    key: Callable[[Row], tuple[str, ...]],
) -> Connection[Node]:
    """Build a connection from `first + 1` fetched rows (the extra one signals a next page)."""
    page = rows[:first]
    edges = [Edge(node=to_node(row), cursor=encode_cursor(*key(row))) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
