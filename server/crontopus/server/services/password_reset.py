"""Forgotten passwords: a single-use link by mail, and the new password it sets.

The request answers the same whether or not an account has the address, so it tells nobody
which addresses are registered; it is rate-limited per client address, and one account gets
at most one link a minute (account_mail.RESEND_PAUSE). The reset ends every session of the
account, since whoever knew the old password may hold one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import AccountTokenPurpose, User, UserSession
from crontopus.server.errors import FieldProblem, NotFound, ValidationFailed
from crontopus.server.security import passwords
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.ratelimit import Limit, RateLimiter
from crontopus.server.services import account_mail, account_tokens
from crontopus.server.services.sessions import end_sessions, forget
from crontopus.server.settings import Settings


async def request_password_reset(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    email: str,
    client_address: str,
) -> None:
    """Mail a reset link when an account has `email`; say nothing either way."""
    await limiter.take(Limit.PASSWORD_RESET, client_address)
    address = email.strip().lower()
    user = await session.scalar(select(User).where(User.email == address))
    purpose = AccountTokenPurpose.RESET_PASSWORD
    if user is not None and not await account_mail.recently_sent(session, user, purpose):
        await account_mail.send_password_reset(session, settings, user)
    await session.commit()


async def reset_password(
    session: AsyncSession,
    settings: Settings,
    token: str,
    new_password: str,
    identities: IdentityCache | None = None,
) -> tuple[User, int]:
    """Set a new password with a reset link; end every session; return the user and how many."""
    row = await account_tokens.find_valid(session, AccountTokenPurpose.RESET_PASSWORD, token)
    user = await session.get(User, row.user_id) if row.user_id is not None else None
    if user is None or user.email != row.email:
        # The address changed since the link was sent: it no longer reaches the owner.
        raise ValidationFailed.single("token", "is for an address the account no longer has")
    # The policy is checked before the link is spent, so a too-short password costs no link.
    problems = [
        FieldProblem(("newPassword",), problem)
        for problem in settings.password_policy.problems(new_password, username=user.username)
    ]
    if problems:
        raise ValidationFailed(problems)
    user_id, username = user.id, user.username
    await session.commit()  # end the read before hashing, as login does
    password_hash = await passwords.hash_password_off_loop(new_password)
    row = await account_tokens.find_valid(session, AccountTokenPurpose.RESET_PASSWORD, token)
    await account_tokens.spend(session, row)
    user = await session.get(User, user_id)
    assert user is not None, username
    user.password_hash = password_hash
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)  # the link proved the mailbox is theirs
    ended = await end_sessions(session, datetime.now(UTC), UserSession.user_id == user.id)
    account_mail.notify_password_changed(session, settings, user, "reset with a mailed link")
    await session.commit()
    forget(identities, ended)
    if identities is not None:
        identities.forget_user(user.id)
    return user, len(ended)


async def set_password(
    session: AsyncSession, settings: Settings, username: str, new_password: str
) -> int:
    """An operator's reset (`crontopus-server reset-password`): set the password, end every
    session, and mail the owner a notice; return how many sessions ended."""
    account = username.strip().lower()
    user = await session.scalar(select(User).where(User.username == account))
    if user is None:
        raise NotFound(f"no user named {account!r}")
    problems = [
        FieldProblem(("password",), problem)
        for problem in settings.password_policy.problems(new_password, username=account)
    ]
    if problems:
        raise ValidationFailed(problems)
    user.password_hash = await passwords.hash_password_off_loop(new_password)
    ended = await end_sessions(session, datetime.now(UTC), UserSession.user_id == user.id)
    account_mail.notify_password_changed(session, settings, user, "reset by an operator")
    await session.commit()
    return len(ended)
