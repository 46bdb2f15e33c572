"""Errors as data: the typed error objects mutations return in their result unions."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.types import Info

from crontopus.server import errors


@strawberry.interface(description="A failure the caller can act on.")
class UserError:
    message: str


@strawberry.type(description="One problem with one input field.")
class FieldError:
    path: list[str]
    message: str


@strawberry.type(description="The input is malformed; `fields` says where and how to fix it.")
class ValidationError(UserError):
    fields: list[FieldError]


@strawberry.type(description="The thing does not exist or is not visible to you.")
class NotFoundError(UserError):
    pass


# Named apart from the builtin PermissionError; the schema keeps the GraphQL name.
@strawberry.type(
    name="PermissionError", description="Your role or token scope does not allow this."
)
class PermissionRefused(UserError):
    pass


@strawberry.type(description="Missing, wrong or expired credentials.")
class AuthenticationError(UserError):
    pass


@strawberry.type(description="Too many attempts; wait before retrying.")
class RateLimitedError(UserError):
    retry_after_seconds: int


@strawberry.type(
    description="The tenant holds as many of these as its quota allows; `setting` raises it."
)
class QuotaExceededError(UserError):
    quota: str
    limit: int
    setting: str


@strawberry.type(description="The thing changed meanwhile or already exists.")
class ConflictError(UserError):
    pass


UserErrors = (
    ValidationError
    | NotFoundError
    | PermissionRefused
    | AuthenticationError
    | RateLimitedError
    | QuotaExceededError
    | ConflictError
)


def to_graphql_error(error: errors.ServiceError) -> UserErrors:
    """Map a service exception onto its GraphQL error type."""
    if isinstance(error, errors.ValidationFailed):
        return ValidationError(
            message=error.message,
            fields=[FieldError(path=list(p.path), message=p.message) for p in error.problems],
        )
    if isinstance(error, errors.RateLimited):
        return RateLimitedError(message=error.message, retry_after_seconds=error.retry_after)
    if isinstance(error, errors.QuotaExceeded):
        return QuotaExceededError(
            message=error.message, quota=error.quota, limit=error.limit, setting=error.setting
        )
    if isinstance(error, errors.NotFound):
        return NotFoundError(message=error.message)
    if isinstance(error, errors.PermissionDenied):
        return PermissionRefused(message=error.message)
    if isinstance(error, errors.AuthenticationFailed):
        return AuthenticationError(message=error.message)
    if isinstance(error, errors.Conflict):
        return ConflictError(message=error.message)
    raise TypeError(f"no GraphQL error type for {type(error).__name__}")


class ServiceErrors(FieldExtension):
    """Answer a service's refusal as the mutation's typed error instead of a GraphQL error.

    Every mutation whose result union includes `UserErrors` carries this extension, so the
    mapping lives here once rather than in a `try`/`except` in each resolver.
    """

    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            return next_(source, info, **kwargs)
        except errors.ServiceError as error:
            return to_graphql_error(error)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except errors.ServiceError as error:
            return to_graphql_error(error)
