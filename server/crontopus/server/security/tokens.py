"""Opaque secrets: API, enrollment, endpoint, refresh and account-mail tokens.

Format: `<prefix>_<30 base62 chars of randomness><6 base62 chars of CRC32>`. The checksum
lets a typo'd or truncated token be rejected without touching the database; the
prefix tells people (and secret scanners) what a leaked token is. Only the SHA-256 of a
token is stored, so a database leak discloses no usable credential.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass

_ALPHABET = string.digits + string.ascii_letters
_RANDOM_LENGTH = 30  # 30 base62 characters ≈ 178 bits
_CHECKSUM_LENGTH = 6


class TokenKind(enum.Enum):
    """Every kind of opaque token and its prefix."""

    API = "ctp"
    ENROLLMENT = "cten"
    ENDPOINT = "cte"
    REFRESH = "ctr"
    ACCOUNT = "cta"  # the single-use link of an account mail (verify, reset, invitation)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly minted token: the plaintext (shown once) and what is stored."""

    plaintext: str
    digest: str
    hint: str


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LENGTH)


def issue_token(kind: TokenKind) -> IssuedToken:
    """Mint a new random token of `kind`."""
    body = f"{kind.value}_" + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    plaintext = body + _checksum(body)
    return IssuedToken(plaintext=plaintext, digest=digest(plaintext), hint=plaintext[-4:])


def digest(plaintext: str) -> str:
    """Return the stored form of a token (hex SHA-256)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def token_kind(plaintext: str) -> TokenKind | None:
    """Return the kind of a well-formed token, or None when it is malformed or mistyped."""
    prefix, _, rest = plaintext.partition("_")
    if len(rest) != _RANDOM_LENGTH + _CHECKSUM_LENGTH or not all(c in _ALPHABET for c in rest):
        return None
    try:
        kind = TokenKind(prefix)
    except ValueError:
        return None
    body = plaintext[:-_CHECKSUM_LENGTH]
    if not secrets.compare_digest(_checksum(body), plaintext[-_CHECKSUM_LENGTH:]):
        return None
    return kind
