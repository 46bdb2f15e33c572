"""GraphQL types for users, tenants, memberships and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from crontopus.server.db import models
from crontopus.server.graphql.context import Info
from crontopus.server.security.identity_cache import TenantView, UserView
from crontopus.server.services import invitations
from crontopus.server.services.accounts import Session
from crontopus.server.services.members import list_user_memberships

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(models.Role, name="Role", description="What a member may do in a tenant.")
Role = models.Role


@strawberry.type
class User:
    id: uuid.UUID
    username: str
    email: str
    created_at: datetime
    email_verified: bool = strawberry.field(
        description="Whether the owner followed a verification link sent to `email`."
    )

    @classmethod
    def from_model(cls, user: models.User | UserView) -> User:
        verified = (
            user.email_verified
            if isinstance(user, UserView)
            else user.email_verified_at is not None
        )
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            created_at=user.created_at,
            email_verified=verified,
        )


@strawberry.type
class Tenant:
    id: uuid.UUID
    slug: str
    name: str
    sso_provider: str | None = strawberry.field(
        default=None,
        description="SSO-only: the identity provider (its name) members must log in with; "
        "password logins into the tenant are refused. Null: passwords work too.",
    )

    @classmethod
    def from_model(cls, tenant: models.Tenant | TenantView) -> Tenant:
        return cls(
            id=tenant.id, slug=tenant.slug, name=tenant.name, sso_provider=tenant.sso_provider
        )


@strawberry.type(description="A single sign-on (OpenID Connect) provider people may log in with.")
class IdentityProvider:
    name: str = strawberry.field(description="Its name in the server's settings and URLs.")
    label: str = strawberry.field(description="What the login page calls it: Log in with <label>.")
    start_url: str = strawberry.field(
        description="Where a browser goes to log in with it (`?tenant=<slug>` picks the tenant, "
        "`?next=<path>` the console page to land on)."
    )


@strawberry.type(description="A user's membership of a tenant.")
class Membership:
    user: User
    tenant: Tenant
    role: Role
    created_at: datetime

    @classmethod
    def from_model(cls, membership: models.Membership) -> Membership:
        return cls(
            user=User.from_model(membership.user),
            tenant=Tenant.from_model(membership.tenant),
            role=membership.role,
            created_at=membership.created_at,
        )


@strawberry.type(description="The caller: who they are, the tenant they act in, and their role.")
class Me:
    user: User
    tenant: Tenant
    role: Role
    operator: bool = strawberry.field(
        default=False,
        description="Whether you are a platform operator (signed in, not through a token).",
    )
    email_verification_pending: bool = strawberry.field(
        default=False,
        description="Whether your address waits for its verification link to be followed "
        "(the console shows a banner; `resendVerificationEmail` sends another link).",
    )

    @strawberry.field(
        description="Every tenant the user belongs to (log in with `tenant` to switch)."
    )
    async def tenants(self, info: Info) -> list[Membership]:
        # Loaded only when asked for: `me` itself is answered from the authenticated identity.
        principal = info.context.require_principal()
        async with info.context.session() as session:
            memberships = await list_user_memberships(session, principal)
        return [Membership.from_model(m) for m in memberships]


@strawberry.type(description="Tokens for a logged-in session.")
class AuthPayload:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str | None = strawberry.field(
        description="The refresh token; null when it was set as a cookie (`useCookie`)."
    )
    token_type: str
    user: User
    tenant: Tenant
    role: Role

    @classmethod
    def from_session(cls, session: Session, *, with_refresh_token: bool = True) -> AuthPayload:
        return cls(
            access_token=session.access_token,
            access_token_expires_at=session.access_expires_at,
            refresh_token=session.refresh_token if with_refresh_token else None,
            token_type="Bearer",
            user=User.from_model(session.user),
            tenant=Tenant.from_model(session.tenant),
            role=session.role,
        )


@strawberry.type
class LogoutPayload:
    ok: bool


@strawberry.type
class RemoveMemberPayload:
    user: User


@strawberry.type(name="Session", description="A login on one device, until it logs out or expires.")
class LoginSession:
    id: uuid.UUID
    tenant: Tenant
    user_agent: str = strawberry.field(description="The browser or program that logged in.")
    address: str = strawberry.field(description="The client address it was last used from.")
    created_at: datetime
    last_used_at: datetime = strawberry.field(description="Last use, to the minute.")
    expires_at: datetime = strawberry.field(description="When it ends unless used again.")
    current: bool = strawberry.field(description="Whether this is the session asking.")

    @classmethod
    def from_model(cls, row: models.UserSession, current: uuid.UUID | None) -> LoginSession:
        return cls(
            id=row.id,
            tenant=Tenant.from_model(row.tenant),
            user_agent=row.user_agent,
            address=row.address,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            current=row.id == current,
        )


@strawberry.type(description="Sessions that were ended; their access tokens stop working.")
class EndedSessions:
    count: int


@strawberry.type(description="The password was changed; your other sessions were ended.")
class PasswordChanged:
    ended_sessions: int


@strawberry.type(
    description="Signed up; the address must be verified before the first login "
    "(CRONTOPUS_EMAIL_VERIFICATION=required). The link is on its way."
)
class VerificationPending:
    user: User
    message: str


@strawberry.type(description="The address is verified.")
class EmailVerified:
    user: User


@strawberry.type(description="A verification link was mailed.")
class VerificationSent:
    email: str


@strawberry.type(
    description="The answer to every password-reset request, whether or not an account has "
    "the address, so it tells nobody which addresses are registered."
)
class PasswordResetRequested:
    message: str
    mail_enabled: bool = strawberry.field(
        description="Whether this server sends mail at all; when false, no link can come and "
        "an operator resets the password (`crontopus-server reset-password`)."
    )


@strawberry.type(description="The password was reset; every session of the account ended.")
class PasswordReset:
    user: User
    ended_sessions: int


@strawberry.type(description="The e-mail address was changed; the old one got a notice.")
class EmailChanged:
    user: User
    verification_sent: bool = strawberry.field(
        description="Whether a verification link went to the new address."
    )


@strawberry.type(
    description="A pending invitation: a single-use link went to `email` (its token is never "
    "shown again)."
)
class Invitation:
    id: uuid.UUID
    email: str
    role: Role
    invited_by: str | None = strawberry.field(description="The user name of who sent it.")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_service(cls, invitation: invitations.Invitation) -> Invitation:
        return cls(
            id=invitation.id,
            email=invitation.email,
            role=invitation.role,
            invited_by=invitation.invited_by,
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )
