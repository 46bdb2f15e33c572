"""Each distinct query text is parsed and validated once; the request limits hold every time."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)

from crontopus.server.graphql.documents import DocumentCache
from crontopus.server.graphql.schema import Mutation, Query, Subscription, create_schema
from crontopus.server.settings import Limits

LIMITS = Limits(max_query_depth=2, max_aliases=2, max_tokens=40)
TOO_DEEP = "{ me { tenants { user { username } } } }"
TOO_MANY_ALIASES = "{ a: __typename b: __typename c: __typename }"
TOO_LONG = "{ " + "__typename " * 50 + "}"
UNKNOWN_FIELD = "{ nothingHere }"
SYNTAX_ERROR = "{ me { "


def strawberry_limits_schema(limits: Limits) -> strawberry.Schema:
    """The schema guarded by Strawberry's own limit extensions, as Crontopus once was."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: AddValidationRules(
                [
                    *QueryDepthLimiter(max_depth=limits.max_query_depth).validation_rules,
                    *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
                ]
            ),
        ],
    )


def messages(result: Any) -> list[str]:
    return [error.message for error in result.errors or []]


def test_a_repeated_query_text_is_parsed_and_validated_once() -> None:
    cache = DocumentCache(LIMITS)
    schema = strawberry.Schema(query=Query)
    first = cache.document(schema._schema, "{ __typename }")
    again = cache.document(schema._schema, "{ __typename }")
    assert again is first
    assert cache.document.cache_info().misses == 1  # type: ignore[attr-defined]


def test_the_cache_keeps_no_more_texts_than_its_size() -> None:
    cache = DocumentCache(LIMITS, maxsize=2)
    schema = strawberry.Schema(query=Query)
    for alias in ("a", "b", "c"):
        cache.document(schema._schema, f"{{ {alias}: __typename }}")
    assert cache.document.cache_info().currsize == 2  # type: ignore[attr-defined]


def test_a_text_that_does_not_parse_takes_no_cache_slot() -> None:
    cache = DocumentCache(LIMITS)
    schema = strawberry.Schema(query=Query)
    for text in (SYNTAX_ERROR, TOO_LONG):
        with pytest.raises(GraphQLError):
            cache.document(schema._schema, text)
    assert cache.document.cache_info().currsize == 0  # type: ignore[attr-defined]


async def test_every_limit_holds_on_the_first_and_on_a_repeated_request() -> None:
    schema = create_schema(LIMITS)
    for query, expected in (
        (TOO_DEEP, "exceeds maximum operation depth of 2"),
        (TOO_MANY_ALIASES, "3 aliases found. Allowed: 2"),
        (TOO_LONG, "more than 40 tokens"),
        (UNKNOWN_FIELD, "Cannot query field 'nothingHere'"),
    ):
        for _ in range(2):
            result = await schema.execute(query)
            assert result.data is None
            assert any(expected in message for message in messages(result)), messages(result)


async def test_its_errors_read_exactly_as_strawberrys_own_limit_extensions() -> None:
    ours = create_schema(LIMITS)
    theirs = strawberry_limits_schema(LIMITS)
    for query in (TOO_DEEP, TOO_MANY_ALIASES, TOO_LONG, UNKNOWN_FIELD, SYNTAX_ERROR):
        expected = messages(await theirs.execute(query))
        assert expected
        for _ in range(2):
            assert messages(await ours.execute(query)) == expected


async def test_a_valid_query_runs_the_same_when_its_document_comes_from_the_cache() -> None:
    schema = create_schema(LIMITS)
    results = [await schema.execute("query Hello { __typename }") for _ in range(2)]
    assert [result.data for result in results] == [{"__typename": "Query"}] * 2
    assert all(result.errors is None for result in results)


async def test_a_cached_document_still_answers_to_the_requested_operation_name() -> None:
    schema = create_schema(LIMITS)
    query = "query A { a: __typename } query B { b: __typename }"
    first = await schema.execute(query, operation_name="A")
    second = await schema.execute(query, operation_name="B")
    assert first.data == {"a": "Query"}
    assert second.data == {"b": "Query"}
