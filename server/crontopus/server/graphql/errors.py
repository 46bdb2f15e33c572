"""Errors as data: the typed error objects mutations return in their result unions."""

from __future__ import annotations

import strawberry

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
