"""Errors raised by the server's services.

    ServerError
    ├── ConfigurationError        bad settings; the server refuses to start
    └── ServiceError              the user's request cannot be honoured (shown to the user)
        ├── ValidationFailed      input is malformed; carries field problems
        ├── AuthenticationFailed  missing, wrong or expired credentials
        │   └── TenantSuspended   the credential's tenant is suspended by a platform operator
        ├── RateLimited           too many attempts too fast; carries retry_after
        ├── QuotaExceeded         the tenant holds as many as its quota allows
        ├── PermissionDenied      authenticated, but the role or scope does not allow it
        ├── NotFound              does not exist, or belongs to another tenant
        └── Conflict              the thing changed or exists already

Services raise these; GraphQL maps them to typed error objects (errors as data) and
HTTP routes to status codes. Anything else is unexpected and is masked and logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ServerError(Exception):
    """Base of every error the server raises on purpose."""


class ConfigurationError(ServerError):
    """A setting is missing or malformed."""


class ServiceError(ServerError):
    """An expected failure whose message is meant for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input field, `path` like ("input", "password")."""

    path: tuple[str, ...]
    message: str


class ValidationFailed(ServiceError):
    def __init__(self, problems: Sequence[FieldProblem], message: str | None = None) -> None:
        self.problems = tuple(problems)
        text = message or "; ".join(f"{'.'.join(p.path)}: {p.message}" for p in self.problems)
        super().__init__(text)

    @classmethod
    def single(cls, path: str, message: str) -> ValidationFailed:
        return cls([FieldProblem(tuple(path.split(".")), message)])


class AuthenticationFailed(ServiceError):
    pass


class TenantSuspended(AuthenticationFailed):
    """The tenant was suspended by the server's operator; nothing it holds was removed.

    `identity` is the credential's identity when one was resolved: check-ins are still
    stored for a suspended tenant (and answered with this refusal), so they are not lost.
    """

    def __init__(self, slug: str, reason: str | None = None, identity: object = None) -> None:
        because = f" ({reason})" if reason else ""
        super().__init__(
            f"the tenant {slug!r} is suspended by the server's operator{because}; "
            "ask the operator to resume it"
        )
        self.slug = slug
        self.identity = identity


class RateLimited(ServiceError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(ServiceError):
    def __init__(self, message: str, quota: str, limit: int, setting: str) -> None:
        super().__init__(message)
        self.quota = quota
        self.limit = limit
        self.setting = setting


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass
