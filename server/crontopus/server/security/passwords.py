"""Password hashing (argon2id) and the minimum strength rules."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024

# The handful of passwords every credential-stuffing list starts with.
_COMMON = frozenset(
    {
        "password", "password1", "password12", "password123", "password1234", "passw0rd",
        "123456789", "1234567890", "12345678910", "qwertyuiop", "qwerty1234", "qwerty12345",
        "1q2w3e4r5t", "1qaz2wsx3edc", "iloveyou12", "letmein123", "welcome123", "admin12345",
        "administrator", "changeme123", "trustno1234", "football12", "baseball12", "sunshine12",
        "princess12", "dragon1234", "monkey1234", "abc1234567", "abcdefghij", "crontopus1",
        "crontopus123",
    }
)  # fmt: skip

T = TypeVar("T")

_hasher = PasswordHasher()  # argon2id with the library's current RFC 9106 defaults

#: Hashes computed at once. argon2 releases the GIL, so each one occupies a core: more
#: threads than cores would only make every login slower, fewer would leave cores idle.
HASHING_THREADS = os.cpu_count() or 1
_pool: ThreadPoolExecutor | None = None


#: The niceness of the hashing threads (the event loop's is the process's, usually 0).
HASHING_NICENESS = 10


def _lower_priority() -> None:
    """Let the OS prefer the event loop over hashing when the cores are busy.

    On Linux niceness is per thread and inherited by the threads argon2 starts for its
    lanes, so a login flood slows other logins, not every request of the process.
    """
    # Not Linux, or not allowed: hashing still works, at the loop's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


async def _off_the_loop(work: Callable[..., T], *args: str) -> T:
    """Run argon2 work in the hashing threads: tens of milliseconds of CPU must not stall
    every other request of the process (the pool's size is the semaphore)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(
            HASHING_THREADS, thread_name_prefix="crontopus-argon2", initializer=_lower_priority
        )
    return await asyncio.get_running_loop().run_in_executor(_pool, work, *args)


def password_problems(password: str, *, username: str = "") -> list[str]:
    """Return what is wrong with a new password, each with how to fix it (empty when fine)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long (got {len(password)})")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if len(set(password)) < 4:
        problems.append("must contain at least 4 different characters")
    if password.lower() in _COMMON:
        problems.append("is one of the most common passwords; choose another")
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("must not contain the username")
    return problems


def hash_password(password: str) -> str:
    """Return an argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check `password` against a stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    """Return an argon2id hash of `password`, computed in the hashing threads."""
    return await _off_the_loop(hash_password, password)


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    """Check `password` against a stored hash in the hashing threads."""
    return await _off_the_loop(verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


# Verifying against this when the user does not exist keeps login timing uniform,
# so response time does not reveal which usernames exist.
DUMMY_HASH = _hasher.hash("crontopus-timing-equaliser")
