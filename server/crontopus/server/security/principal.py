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
    #: An endpoint's labels (sorted pairs): which jobs target it.
    endpoint_labels: tuple[tuple[str, str], ...] = ()
    #: A platform operator signed in (a session, never a token): administers every tenant.
    operator: bool = False

    @property
    def label(self) -> str:
        """How the principal appears in audit events and commit authors."""
        if self.kind is PrincipalKind.ENDPOINT:
            return f"endpoint:{self.endpoint_id}"
        if self.kind is PrincipalKind.API_TOKEN:
            return f"{self.username} (token)"
        return self.username or "unknown"

    @property
    def is_session(self) -> bool:
        """A person signed in with an access token (every scope of their role)."""
        return self.kind is PrincipalKind.USER

    def has_scope(self, scope: Scope) -> bool:
        return self.kind is PrincipalKind.USER or scope in self.scopes

    def require_role(self, minimum: Role, action: str) -> None:
        """Refuse `action` unless the principal's role is at least `minimum`."""
        if self.kind is PrincipalKind.ENDPOINT:
            raise PermissionDenied(f"{action} is not open to endpoint tokens")
        if self.role.rank < minimum.rank:
            raise PermissionDenied(
                f"{action} needs the {minimum.value} role or higher; you are {self.role.value}"
            )

    def require_read(self, action: str, *, endpoints: bool = False) -> None:
        """Refuse `action` to tokens without the read scope (and to endpoints unless allowed).

        `endpoints=True` marks the few reads an agent needs; the service then limits what an
        endpoint sees to itself, the jobs targeted at it and its own runs.
        """
        if self.kind is PrincipalKind.ENDPOINT:
            if not endpoints:
                raise PermissionDenied(f"{action} is not open to endpoint tokens")
            return
        # The write scope includes reading, as on GitHub and GitLab.
        if not (self.has_scope(Scope.READ) or self.has_scope(Scope.WRITE)):
            raise PermissionDenied(f"{action} needs a token with the read scope")

    def require_admin_read(self, action: str) -> None:
        """Refuse `action` (a read of tenant administration) unless admin with the read scope."""
        self.require_role(Role.ADMIN, action)
        self.require_read(action)

    def require_write(self, action: str) -> None:
        """Refuse `action` for viewers and for tokens without the write scope."""
        self.require_role(Role.MEMBER, action)
        if not self.has_scope(Scope.WRITE):
            raise PermissionDenied(f"{action} needs a token with the write scope")

    def require_admin(self, action: str) -> None:
        self.require_role(Role.ADMIN, action)
        if not self.has_scope(Scope.WRITE):
            raise PermissionDenied(f"{action} needs a token with the write scope")

    def require_operator(self, action: str) -> None:
        """Refuse `action` unless a platform operator is signed in (tokens never qualify).

        No tenant role grants it, so an owner of every tenant is still refused; the flag is
        read with the credential, so a demotion applies as soon as the credential is checked.
        """
        if self.kind is not PrincipalKind.USER:
            raise PermissionDenied(
                f"{action} needs a platform operator signed in (log in); tokens cannot do it"
            )
        if not self.operator:
            raise PermissionDenied(
                f"{action} needs a platform operator "
                "(`crontopus-server operator promote USER` makes one)"
            )

    def require_session(self, action: str) -> None:
        """Refuse `action` to every token: only a signed-in person may do it (as on GitHub)."""
        if self.kind is not PrincipalKind.USER:
            raise PermissionDenied(f"{action} needs you signed in (log in); tokens cannot do it")
