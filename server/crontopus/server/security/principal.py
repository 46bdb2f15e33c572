"""Who is making a request, in which tenant, and what they may do."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from crontopus.server.db.models import Role
from crontopus.server.errors import PermissionDenied


class PrincipalKind(enum.Enum):
    USER = "user"  # a person with a JWT access token
    API_TOKEN = "api_token"  # a personal API token acting for its user
    ENDPOINT = "endpoint"  # an enrolled agent


class Scope(enum.StrEnum):
    """What a personal API token may do, on top of its user's role."""

    READ = "read"
    WRITE = "write"
    CHECKIN = "checkin"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    tenant_id: uuid.UUID
    tenant_slug: str
    role: Role
    user_id: uuid.UUID | None = None
    username: str | None = None
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    token_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None  # the login session of a USER principal

    @property
    def label(self) -> str:
        """How the principal appears in audit events and commit authors."""
        if self.kind is PrincipalKind.ENDPOINT:
            return f"endpoint:{self.endpoint_id}"
        if self.kind is PrincipalKind.API_TOKEN:
            return f"{self.username} (token)"
        return self.username or "unknown"

    def has_scope(self, scope: Scope) -> bool:
        return self.kind is PrincipalKind.USER or scope in self.scopes

    def require_role(self, minimum: Role, action: str) -> None:
        """Refuse `action` unless the principal's role is at least `minimum`."""
        if self.kind is PrincipalKind.ENDPOINT or self.role.rank < minimum.rank:
            raise PermissionDenied(
                f"{action} needs the {minimum.value} role or higher; you are {self.role.value}"
            )

    def require_write(self, action: str) -> None:
        """Refuse `action` for viewers and for tokens without the write scope."""
        self.require_role(Role.MEMBER, action)
        if not self.has_scope(Scope.WRITE):
            raise PermissionDenied(f"{action} needs a token with the write scope")

    def require_admin(self, action: str) -> None:
        self.require_role(Role.ADMIN, action)
        if not self.has_scope(Scope.WRITE):
            raise PermissionDenied(f"{action} needs a token with the write scope")
