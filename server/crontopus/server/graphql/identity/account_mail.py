"""GraphQL mutations of account mail: verification, password reset, address change and
invitations (the services are services/email_verification.py, password_reset.py,
accounts.change_email and invitations.py), and the query of pending invitations."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.identity.mutations import (
    USE_COOKIE,
    AuthResult,
    answer,
    cookie_refused,
    device_of,
)
from crontopus.server.graphql.identity.types import (
    EmailChanged,
    EmailVerified,
    Invitation,
    Membership,
    PasswordReset,
    PasswordResetRequested,
    Role,
    User,
    VerificationSent,
)
from crontopus.server.services import accounts, email_verification, invitations, password_reset
from crontopus.server.services.invitations import Invitation as PendingInvitation

VerifyEmailResult = Annotated[EmailVerified | UserErrors, strawberry.union("VerifyEmailResult")]
ResendVerificationResult = Annotated[
    VerificationSent | UserErrors, strawberry.union("ResendVerificationResult")
]
RequestPasswordResetResult = Annotated[
    PasswordResetRequested | UserErrors, strawberry.union("RequestPasswordResetResult")
]
ResetPasswordResult = Annotated[PasswordReset | UserErrors, strawberry.union("ResetPasswordResult")]
ChangeEmailResult = Annotated[EmailChanged | UserErrors, strawberry.union("ChangeEmailResult")]
RevokeInvitationResult = Annotated[
    Invitation | UserErrors, strawberry.union("RevokeInvitationResult")
]
InviteMemberResult = Annotated[
    Membership | Invitation | UserErrors, strawberry.union("InviteMemberResult")
]

RESET_REQUESTED = (
    "If an account has this address, a link to choose a new password is on its way; it works "
    "once, for an hour."
)
NO_MAIL = (
    "This server sends no e-mail, so no link can come: ask the people who run it to reset "
    "your password."
)


@strawberry.type
class AccountMailMutations:
    @strawberry.mutation(
        description="Confirm your e-mail address with the mailed link's token.",
        extensions=[ServiceErrors()],
    )
    async def verify_email(self, info: Info, token: str) -> VerifyEmailResult:
        context = info.context
        async with context.session() as session:
            user = await email_verification.verify_email(session, token, context.identities)
        return EmailVerified(user=User.from_model(user))

    @strawberry.mutation(
        description="Mail a new verification link to your address.",
        extensions=[ServiceErrors()],
    )
    async def resend_verification_email(self, info: Info) -> ResendVerificationResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            email = await email_verification.resend_verification(
                session, context.settings, principal
            )
        return VerificationSent(email=email)

    @strawberry.mutation(
        description="Mail a single-use link to choose a new password to the account with this "
        "address. Answers the same whether or not such an account exists.",
        extensions=[ServiceErrors()],
    )
    async def request_password_reset(self, info: Info, email: str) -> RequestPasswordResetResult:
        context = info.context
        async with context.session() as session:
            await password_reset.request_password_reset(
                session, context.settings, context.limiter, email, context.client_address
            )
        enabled = context.settings.mail.enabled
        return PasswordResetRequested(
            message=RESET_REQUESTED if enabled else NO_MAIL, mail_enabled=enabled
        )

    @strawberry.mutation(
        description="Choose a new password with a reset link's token (single-use, an hour); "
        "every session of the account ends.",
        extensions=[ServiceErrors()],
    )
    async def reset_password(
        self, info: Info, token: str, new_password: str
    ) -> ResetPasswordResult:
        context = info.context
        async with context.session() as session:
            user, ended = await password_reset.reset_password(
                session, context.settings, token, new_password, context.identities
            )
        return PasswordReset(user=User.from_model(user), ended_sessions=ended)

    @strawberry.mutation(
        description="Change your e-mail address: the old one gets a notice, the new one a "
        "verification link.",
        extensions=[ServiceErrors()],
    )
    async def change_email(
        self, info: Info, current_password: str, new_email: str
    ) -> ChangeEmailResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            user, sent = await accounts.change_email(
                session,
                context.settings,
                context.limiter,
                principal,
                current_password,
                new_email,
                context.client_address,
                context.identities,
            )
        return EmailChanged(user=User.from_model(user), verification_sent=sent)

    @strawberry.mutation(
        description="Add someone to the active tenant by e-mail address: an account with it "
        "becomes a member at once (Membership); otherwise a single-use invitation is mailed "
        "(Invitation), accepted with `acceptInvitation`.",
        extensions=[ServiceErrors()],
    )
    async def invite_member(
        self,
        info: Info,
        email: str,
        role: Role,
    ) -> InviteMemberResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            result = await invitations.invite_member(
                session, context.settings, principal, email, role
            )
        if isinstance(result, PendingInvitation):
            return Invitation.from_service(result)
        return Membership.from_model(result)

    @strawberry.mutation(
        description="Withdraw a pending invitation of the active tenant (admins): its mailed "
        "link stops working at once.",
        extensions=[ServiceErrors()],
    )
    async def revoke_invitation(self, info: Info, id: uuid.UUID) -> RevokeInvitationResult:
        context = info.context
        principal = context.require_principal()
        async with context.session() as session:
            result = await invitations.revoke_invitation(session, principal, id)
        return Invitation.from_service(result)

    @strawberry.mutation(
        description="Accept a mailed invitation: create your account (its address is the "
        "invited one) in the inviting tenant, and log in.",
        extensions=[ServiceErrors()],
    )
    async def accept_invitation(
        self,
        info: Info,
        token: str,
        username: str,
        password: str,
        use_cookie: Annotated[bool, strawberry.argument(description=USE_COOKIE)] = False,
    ) -> AuthResult:
        context = info.context
        if (refused := cookie_refused(context, use_cookie)) is not None:
            return refused
        async with context.session() as session:
            result = await invitations.accept_invitation(
                session, context.settings, token, username, password, device_of(context)
            )
        return answer(context, result, use_cookie)
