"""Password hashing (argon2id) and the rules a new password must pass."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import os
import string
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: NIST SP 800-63B (revision 4) asks 15 characters of a password that is the only factor.
DEFAULT_MIN_LENGTH = 15
#: The lowest minimum an operator may set: the same document's floor for any password.
LOWEST_MIN_LENGTH = 8
MAX_LENGTH = 1024
#: The bundled list: the 20,000 most common passwords of breach corpora, as Django ships them.
COMMON_LIST = Path(__file__).with_name("common-passwords.txt.gz")
#: Words of this service itself, which a guesser tries first here (NIST: context-specific words).
_CONTEXT_WORDS = frozenset({"crontopus", "crontab", "cronjob"})
#: What people add to a common password to pass a length rule.
_PADDING = string.digits + string.punctuation + " "


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lowercased (loaded once, on first use: about 20,000 entries)."""
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must be (NIST SP 800-63B): long enough and not a known one.

    No composition rules (a digit, a capital, a symbol): they make passwords harder to remember
    and no harder to guess. Every rule's message names it and says how to comply.
    """

    min_length: int = DEFAULT_MIN_LENGTH

    def problems(self, password: str, *, username: str = "") -> list[str]:
        """Return what is wrong with a new password, each with how to fix it (empty when fine)."""
        problems: list[str] = []
        if len(password) < self.min_length:
            problems.append(
                f"is too short: passwords need at least {self.min_length} characters (this has "
                f"{len(password)}); a few unrelated words make one that is easy to remember"
            )
        if len(password) > MAX_LENGTH:
            problems.append(f"is too long: passwords may have at most {MAX_LENGTH} characters")
        if len(set(password)) < 4:
            problems.append(
                "repeats too few characters: a password needs at least 4 different characters"
            )
        if _is_common(password):
            problems.append(
                "is too common: it is on the list of passwords attackers try first (or is one "
                "of them with digits or symbols added, or repeated); choose another"
            )
        if username and len(username) >= 3 and username.lower() in password.lower():
            problems.append("contains your username: choose a password without it")
        return problems


def _is_common(password: str) -> bool:
    """Whether the password, or what is left of it without padding or repetition, is listed."""
    text = password.lower()
    core = text.strip(_PADDING)
    candidates = {text, core, text.rstrip(_PADDING), text.lstrip(_PADDING)}
    for whole in (text, core):  # "qwertyqwertyqwerty" is "qwerty" three times
        for unit in range(1, len(whole) // 2 + 1):
            if len(whole) % unit == 0 and whole[:unit] * (len(whole) // unit) == whole:
                candidates.add(whole[:unit])
                break
    listed = common_passwords()
    return any(c in listed or c in _CONTEXT_WORDS for c in candidates if c)


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
