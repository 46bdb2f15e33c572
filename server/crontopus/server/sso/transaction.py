"""The login in progress between `/start` and `/callback`: a signed, short-lived cookie.

It holds what the callback must compare the provider's answer with (`state`, `nonce`) and the
PKCE verifier. It is signed with a key derived from the server's secret key, so a browser can
neither forge one nor change the tenant or page it asked for; it lives ten minutes and is
cleared by the callback. Authorization servers only ever see `state`, `nonce` and the S256
challenge, never the verifier, until the code is redeemed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass
from typing import Final

from authlib.common.security import generate_token
from starlette.requests import HTTPConnection
from starlette.responses import Response

TRANSACTION_COOKIE: Final = "crontopus_oidc"
TRANSACTION_PATH: Final = "/auth/oidc/"
#: How long a person may spend at the provider before the login must start over.
TRANSACTION_SECONDS: Final = 600
_PURPOSE: Final = b"crontopus oidc transaction v1"


@dataclass(frozen=True)
class Transaction:
    provider: str
    state: str
    nonce: str
    code_verifier: str
    started_at: int
    tenant: str | None = None  # the slug asked for at the start, if any
    next_path: str | None = None  # the console page to land on

    @classmethod
    def begin(cls, provider: str, tenant: str | None, next_path: str | None) -> Transaction:
        return cls(
            provider=provider,
            state=generate_token(32),
            nonce=generate_token(32),
            # RFC 7636: 43 to 128 characters from the unreserved set; 64 give 380 bits.
            code_verifier=generate_token(64),
            started_at=int(time.time()),
            tenant=tenant,
            next_path=next_path,
        )

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) - self.started_at > TRANSACTION_SECONDS


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(transaction: Transaction, secret_key: str) -> str:
    body = _b64(json.dumps(asdict(transaction), separators=(",", ":")).encode())
    mac = hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unseal(value: str, secret_key: str) -> Transaction | None:
    """The transaction of a cookie value, or None when it is not one this server signed."""
    body, _, mac = value.partition(".")
    expected = hmac.new(_key(secret_key), body.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        fields = json.loads(_unb64(body))
        return Transaction(**fields)
    except (ValueError, TypeError):
        return None


def set_transaction_cookie(
    response: Response, request: HTTPConnection, transaction: Transaction, secret_key: str
) -> None:
    # Lax, not Strict: the provider's redirect back to the callback is a cross-site navigation,
    # and a Strict cookie would not come with it.
    response.set_cookie(
        TRANSACTION_COOKIE,
        seal(transaction, secret_key),
        max_age=TRANSACTION_SECONDS,
        path=TRANSACTION_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def clear_transaction_cookie(response: Response, request: HTTPConnection) -> None:
    response.delete_cookie(
        TRANSACTION_COOKIE,
        path=TRANSACTION_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
