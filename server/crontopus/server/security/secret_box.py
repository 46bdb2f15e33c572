"""Encryption of the secret store at rest: AES-256-GCM under keys from settings.

A stored value is `v1.<key id>.<base64url(nonce + ciphertext)>`. The key id (the first bytes of
the key's SHA-256) says which key sealed it, so several keys can be in force at once: the first
key of `CRONTOPUS_SECRETS_KEY` seals, every listed key opens. Rotating is: put a new key first,
run `crontopus-server rotate-secrets` (it re-seals every value with the new key), then drop the
old key. The tenant and the secret's name are bound in as associated data, so a sealed value
copied to another row or tenant in the database does not open.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import uuid
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crontopus.server.settings import Settings, load_or_create_secrets_key

VERSION: Final = "v1"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
KEY_ID_BYTES: Final = 4
GENERATE_HINT: Final = (
    "generate one with `python -c 'import base64, os; "
    "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'`"
)


class SecretBoxError(Exception):
    """A sealed value that no configured key opens (a missing key, or tampering)."""


def new_key() -> str:
    """Return a fresh key as base64url text (32 random bytes)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def key_problem(text: str) -> str | None:
    """Say what is wrong with a key's text (None when it is a usable key)."""
    try:
        raw = _raw(text)
    except (binascii.Error, ValueError):
        return f"is not base64url text: {GENERATE_HINT}"
    if len(raw) != KEY_BYTES:
        return f"must be {KEY_BYTES} bytes of base64url text, not {len(raw)}: {GENERATE_HINT}"
    return None


class SecretBox:
    """Seal and open secret values; the first key seals, every key opens."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a secret box needs at least one key")
        self._keys = [(self._key_id(raw), AESGCM(raw)) for raw in map(_decode, keys)]
        self._by_id = dict(reversed(self._keys))

    @staticmethod
    def _key_id(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()[: 2 * KEY_ID_BYTES]

    @property
    def current_key_id(self) -> str:
        return self._keys[0][0]

    def seal(self, tenant_id: uuid.UUID, name: str, value: str) -> str:
        """Encrypt `value` for the secret `name` of a tenant."""
        key_id, cipher = self._keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, value.encode(), _context(tenant_id, name))
        return f"{VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, tenant_id: uuid.UUID, name: str, sealed: str) -> str:
        """Decrypt a value sealed by `seal`; raise SecretBoxError when no key opens it."""
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        cipher = self._by_id.get(key_id)
        if version != VERSION or cipher is None:
            raise SecretBoxError(
                f"secret {name!r} was sealed with key {key_id or '?'}, which is not among "
                "CRONTOPUS_SECRETS_KEY: add that key back (after the new one) to read it"
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(tenant_id, name))
        except (binascii.Error, ValueError, InvalidTag):
            damaged = f"secret {name!r} does not open: its stored value is damaged"
            raise SecretBoxError(damaged) from None
        return plain.decode()

    def needs_rotation(self, sealed: str) -> bool:
        """Tell whether a sealed value was sealed with a key other than the current one."""
        return sealed.split(".", 2)[1:2] != [self.current_key_id]


def _decode(key: str) -> bytes:
    problem = key_problem(key)
    if problem is not None:
        raise ValueError(f"secrets key {problem}")
    return _raw(key)


def _raw(text: str) -> bytes:
    # Strict: the lenient decoder skips stray characters, so a mistyped key would shrink.
    return base64.b64decode(text.encode(), altchars=b"-_", validate=True)


def _context(tenant_id: uuid.UUID, name: str) -> bytes:
    return f"crontopus-secret:{tenant_id}:{name}".encode()


def secret_box(settings: Settings) -> SecretBox:
    """Return the box for the server's settings (the generated key when none is set)."""
    keys = settings.secrets_keys or (load_or_create_secrets_key(settings.data_dir),)
    return _box(keys)


@functools.lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(keys)
