"""The mails an account gets: the verification link and the notices of changes to it.

Each is queued in the caller's transaction (mail/outbox.py sends it after the commit), so a
mail goes out exactly when the change it reports was stored. Without CRONTOPUS_SMTP_URL
nothing is queued and every function says so by returning False.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import AccountToken, AccountTokenPurpose, User
from crontopus.server.mail import templates
from crontopus.server.mail.outbox import enqueue
from crontopus.server.services import account_tokens
from crontopus.server.settings import Settings

#: A new link of the same kind for one account is not mailed again sooner than this.
RESEND_PAUSE: Final = timedelta(minutes=1)


async def recently_sent(session: AsyncSession, user: User, purpose: AccountTokenPurpose) -> bool:
    """Whether a link of `purpose` went to the account within RESEND_PAUSE (no mail floods)."""
    latest = await session.scalar(
        select(AccountToken.created_at)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose)
        .order_by(AccountToken.created_at.desc())
        .limit(1)
    )
    return latest is not None and datetime.now(UTC) - latest < RESEND_PAUSE


async def send_verification(session: AsyncSession, settings: Settings, user: User) -> bool:
    """Queue a verification link to the account's address; False when none is sent."""
    if not settings.mail.verifies:
        return False
    purpose = AccountTokenPurpose.VERIFY_EMAIL
    token = await account_tokens.issue(session, purpose, user.email, user_id=user.id)
    days = account_tokens.LIFETIMES[purpose].days
    letter = templates.verification(
        user.username, account_tokens.link(settings, purpose, token), days
    )
    return enqueue(session, settings.mail, user.email, letter)


async def send_password_reset(session: AsyncSession, settings: Settings, user: User) -> bool:
    """Queue a password-reset link to the account's address; False when none is sent."""
    if not settings.mail.enabled:
        return False
    purpose = AccountTokenPurpose.RESET_PASSWORD
    token = await account_tokens.issue(session, purpose, user.email, user_id=user.id)
    minutes = int(account_tokens.LIFETIMES[purpose].total_seconds() // 60)
    letter = templates.password_reset(
        user.username, account_tokens.link(settings, purpose, token), minutes
    )
    return enqueue(session, settings.mail, user.email, letter)


def notify_password_changed(
    session: AsyncSession, settings: Settings, user: User, how: str
) -> bool:
    """Queue the notice that the password was `how` (changed, reset)."""
    sign_in = f"{account_tokens.public_base(settings)}/login"
    letter = templates.password_changed(user.username, how, sign_in)
    return enqueue(session, settings.mail, user.email, letter)


def notify_email_changed(
    session: AsyncSession, settings: Settings, user: User, old: str, new: str
) -> bool:
    """Queue the notice of an address change to the old address (the new one gets a link)."""
    return enqueue(session, settings.mail, old, templates.email_changed(user.username, old, new))


async def send_invitation(
    session: AsyncSession,
    settings: Settings,
    token: str,
    email: str,
    inviter: str,
    tenant_name: str,
    role: str,
) -> bool:
    purpose = AccountTokenPurpose.INVITATION
    days = account_tokens.LIFETIMES[purpose].days
    letter = templates.invitation(
        inviter, tenant_name, role, account_tokens.link(settings, purpose, token), days
    )
    return enqueue(session, settings.mail, email, letter)
