"""E-mail verification: the link sent at sign-up (or after an address change) and its use."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import AccountTokenPurpose, User
from crontopus.server.errors import PermissionDenied, ValidationFailed
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.services import account_mail, account_tokens
from crontopus.server.settings import Settings


async def verify_email(
    session: AsyncSession, token: str, identities: IdentityCache | None = None
) -> User:
    """Mark the address a verification link was sent to as verified."""
    row = await account_tokens.find_valid(session, AccountTokenPurpose.VERIFY_EMAIL, token)
    user = await session.get(User, row.user_id) if row.user_id is not None else None
    if user is None or user.email != row.email:
        raise ValidationFailed.single(
            "token", "is for an address the account no longer has; use the newest link"
        )
    await account_tokens.spend(session, row)
    user.email_verified_at = datetime.now(UTC)
    await session.commit()
    if identities is not None:
        identities.forget_user(user.id)  # the console's banner goes on the next `me`
    return user


async def resend_verification(
    session: AsyncSession, settings: Settings, principal: Principal
) -> str:
    """Mail a new verification link to the caller's address; return the address."""
    if principal.kind is not PrincipalKind.USER or principal.user_id is None:
        raise PermissionDenied("Verifying an address needs a logged-in session, not a token")
    user = await session.get(User, principal.user_id)
    assert user is not None
    if user.email_verified_at is not None:
        raise ValidationFailed.single("email", "is already verified")
    if not settings.mail.verifies:
        raise ValidationFailed.single(
            "email",
            "cannot be verified: this server sends no verification mail "
            "(CRONTOPUS_SMTP_URL unset or CRONTOPUS_EMAIL_VERIFICATION=off)",
        )
    purpose = AccountTokenPurpose.VERIFY_EMAIL
    if await account_mail.recently_sent(session, user, purpose):
        raise ValidationFailed.single(
            "email", "was sent a link less than a minute ago; check your mail (and spam folder)"
        )
    await account_mail.send_verification(session, settings, user)
    await session.commit()
    return user.email
