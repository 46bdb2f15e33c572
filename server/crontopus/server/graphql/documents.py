"""Parsed and validated GraphQL documents, cached by query text, under the request limits.

Clients send the same few query texts over and over. Parsing and validating one costs more
than executing a cheap query like `me`, so each distinct text is parsed (under the token
limit) and validated (with the depth and alias limits) once, and a repeat costs one lookup
keyed by the text. The key is the text, not the parsed document: hashing a document walks
its whole tree on every request. The cost limit (see `cost.py`) depends on the variables
too: each cached document keeps its verdicts per combination of the variables that size lists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext

from crontopus.server.graphql.cost import DocumentCost, expanded_selections
from crontopus.server.settings import Limits

#: Distinct query texts kept. An application sends a few dozen; the bound caps the memory a
#: client inventing new texts can pin (each text is itself capped by the token limit).
CACHE_SIZE = 512
#: Selections a document may expand to per token of its limit (see `expanded_selections`).
EXPANSION_PER_TOKEN = 2


class PreparedDocument(NamedTuple):
    """A query text parsed and validated against one schema and the request limits."""

    document: DocumentNode
    errors: tuple[GraphQLError, ...]
    #: None when there is nothing to judge per request: the document has validation errors
    #: (it never runs), or no variable sizes a list and every operation is within budget.
    cost: DocumentCost | None


class DocumentCache:
    """Parse and validate each distinct query text once."""

    def __init__(self, limits: Limits, maxsize: int = CACHE_SIZE) -> None:
        self.max_tokens = limits.max_tokens
        self.max_cost = limits.max_cost
        # A document without fragments has fewer selections than tokens; one whose fragments
        # expand far past that would cost the validation rules that follow fragments dearly.
        self.max_expanded = EXPANSION_PER_TOKEN * limits.max_tokens
        self.limit_rules: tuple[type[ASTValidationRule], ...] = (
            *QueryDepthLimiter(max_depth=limits.max_query_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        )
        self.rules = (*specified_rules, *self.limit_rules)
        # The schema is part of the key (hashed by identity, so it costs nothing). A text
        # that does not parse raises, and lru_cache keeps no slot for it.
        self.document: Callable[[GraphQLSchema, str], PreparedDocument] = lru_cache(maxsize)(
            self._parse_and_validate
        )

    def _parse_and_validate(self, schema: GraphQLSchema, query: str) -> PreparedDocument:
        document = parse(query, max_tokens=self.max_tokens)
        expanded = expanded_selections(document)
        if expanded > self.max_expanded:
            too_large = GraphQLError(
                f"This document's fragments expand to {expanded:,} selections, over the limit "
                f"of {self.max_expanded:,}: spread each fragment fewer times",
                extensions={"code": "DOCUMENT_TOO_LARGE", "limit": self.max_expanded},
            )
            return PreparedDocument(document, (too_large,), None)
        errors = tuple(validate(schema, document, self.rules))
        cost = None if errors else DocumentCost(schema, document, self.max_cost)
        if cost is not None and cost.always_within_budget():
            cost = None  # most documents: nothing left to judge per request
        return PreparedDocument(document, errors, cost)

    def prepare(self, context: ExecutionContext) -> None:
        """Give an operation its cached document and validation errors before Strawberry parses.

        With both set, Strawberry skips its own parse and validation steps. A text that does
        not parse is left to Strawberry, under the same limits, so its syntax or token-limit
        error reaches the result the usual way.
        """
        query = context.query
        if query is None or context.graphql_document is not None:
            return
        try:
            prepared = self.document(context.schema._schema, query)
        except Exception:  # Strawberry's own parse raises it again and reports it
            context.parse_options["max_tokens"] = self.max_tokens
            context.validation_rules = (*context.validation_rules, *self.limit_rules)
            return
        context.graphql_document = prepared.document
        # A fresh list per operation: the result's errors may be replaced later on.
        context.pre_execution_errors = list(prepared.errors)
        if prepared.cost is not None:
            too_costly = prepared.cost.error(context.operation_name, context.variables)
            if too_costly is not None:
                context.pre_execution_errors.append(too_costly)
