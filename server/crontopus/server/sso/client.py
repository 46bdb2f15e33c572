"""Crontopus as an OpenID Connect relying party: discovery, the authorization request, the
code exchange (with PKCE) and the ID token's verification.

Authlib does the protocol's parts (the S256 challenge, the request URL, the ID token claims:
`iss`, `aud`, `exp`, `iat`, `nonce`, `azp`, `at_hash`); its JOSE library (joserfc) checks the
signature against the provider's published keys (JWKS). Provider URLs are operator settings,
so they are not judged by the outbound policy that guards tenant-named destinations
(docs/security.md); every endpoint the discovery document names must still be https (plain
http only on this machine's loopback), and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from crontopus.server.settings import issuer_problem
from crontopus.server.sso.config import OidcProvider
from crontopus.server.sso.transaction import Transaction

#: How long discovery documents and key sets are kept before they are fetched again.
METADATA_SECONDS: Final = 3600
#: A key id the cached set lacks fetches the set again, at most this often (key rotation).
JWKS_REFETCH_SECONDS: Final = 30
#: Clock difference tolerated between the provider and this server.
LEEWAY_SECONDS: Final = 60
TIMEOUT_SECONDS: Final = 10.0
#: Signatures with a public key only: an HMAC "signature" keyed by the client secret, or
#: none at all, would prove nothing about the provider.
ASYMMETRIC: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_ENDPOINTS: Final = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class ProviderError(Exception):
    """The login cannot go on; `message` says why, for the person logging in."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Claims:
    """What a verified ID token says about the person."""

    subject: str
    email: str | None
    email_verified: bool
    preferred_username: str | None
    name: str | None


@dataclass
class _Cached:
    value: Any
    fetched_at: float


class OidcClient:
    """Talks to the configured providers; one per server process (it caches their keys)."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        # No proxy from the environment and no redirects: the server talks to the provider
        # it was told about, directly.
        self._http = http or httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS, trust_env=False, follow_redirects=False
        )
        self._metadata: dict[str, _Cached] = {}
        self._keys: dict[str, _Cached] = {}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    async def authorization_url(
        self, provider: OidcProvider, redirect_uri: str, transaction: Transaction
    ) -> str:
        """Where to send the browser: the provider's login, asking for a code (with PKCE)."""
        metadata = await self.metadata(provider)
        params = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(provider.scopes),
            "state": transaction.state,
            "nonce": transaction.nonce,
            "code_challenge": create_s256_code_challenge(transaction.code_verifier),
            "code_challenge_method": "S256",
        }
        url: str = add_params_to_uri(metadata["authorization_endpoint"], params)
        return url

    async def redeem(
        self, provider: OidcProvider, redirect_uri: str, code: str, transaction: Transaction
    ) -> Claims:
        """Trade the code for tokens, verify the ID token and return what it says."""
        metadata = await self.metadata(provider)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": transaction.code_verifier,
        }
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        sent: dict[str, Any] = {}
        if "client_secret_basic" not in methods and "client_secret_post" in methods:
            form |= {"client_id": provider.client_id, "client_secret": provider.client_secret}
        else:
            # RFC 6749, 2.3.1: both are form-urlencoded before they are joined.
            sent["auth"] = httpx.BasicAuth(
                quote(provider.client_id, safe=""), quote(provider.client_secret, safe="")
            )
        try:
            response = await self._http.post(
                metadata["token_endpoint"],
                data=form,
                headers={"Accept": "application/json"},
                **sent,
            )
        except httpx.HTTPError as error:
            raise ProviderError(f"{provider.label} could not be reached ({error})") from None
        answer = _json(response)
        if response.status_code != 200 or not isinstance(answer, dict):
            reason = (
                answer.get("error_description") or answer.get("error")
                if isinstance(answer, dict)
                else None
            )
            raise ProviderError(
                f"{provider.label} refused the login code ({reason or response.status_code}); "
                "it may have expired or been used already: log in again"
            )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderError(f"{provider.label} answered without an ID token")
        return await self.verify(provider, id_token, transaction.nonce, answer.get("access_token"))

    async def verify(
        self, provider: OidcProvider, id_token: str, nonce: str, access_token: Any = None
    ) -> Claims:
        """Check an ID token's signature and claims; return its claims about the person."""
        metadata = await self.metadata(provider)
        algorithms = [
            alg
            for alg in metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
            if alg in ASYMMETRIC
        ]
        if not algorithms:
            raise ProviderError(
                f"{provider.label} signs ID tokens with no public-key algorithm Crontopus accepts"
            )
        try:
            token = _decode(provider, id_token, await self._key_set(provider), algorithms)
        except InvalidKeyIdError:
            # Signed with a key the cached set lacks: the provider may have rotated its keys.
            keys = await self._key_set(provider, refresh=True)
            try:
                token = _decode(provider, id_token, keys, algorithms)
            except InvalidKeyIdError:
                raise ProviderError(
                    f"the ID token from {provider.label} is signed with a key it does not "
                    "publish; log in again"
                ) from None
        params = {"nonce": nonce, "client_id": provider.client_id}
        if isinstance(access_token, str):
            params["access_token"] = access_token
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": provider.client_id},
            },
            params,
        )
        try:
            claims.validate(leeway=LEEWAY_SECONDS)
        except JoseError as error:
            raise ProviderError(
                f"the ID token from {provider.label} does not hold ({_claim_problem(error)}); "
                "log in again"
            ) from None
        email = claims.get("email")
        return Claims(
            subject=str(claims["sub"]),
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            # Only a JSON true counts: some providers send the string "true", which is not it.
            email_verified=claims.get("email_verified") is True,
            preferred_username=_text(claims.get("preferred_username")),
            name=_text(claims.get("name")),
        )

    async def metadata(self, provider: OidcProvider) -> dict[str, Any]:
        """The provider's discovery document (cached), checked for what the flow needs."""
        cached = self._metadata.get(provider.name)
        if cached is not None and time.monotonic() - cached.fetched_at < METADATA_SECONDS:
            document: dict[str, Any] = cached.value
            return document
        document = await self._get_json(provider, provider.discovery_url, "discovery document")
        # OpenID Connect Discovery 1.0, 4.3: the issuer must be exactly the one asked about.
        if document.get("issuer", "").rstrip("/") != provider.issuer:
            raise ProviderError(
                f"{provider.label}'s discovery document names the issuer "
                f"{document.get('issuer')!r}, not {provider.issuer!r}: check "
                f"CRONTOPUS_OIDC_{provider.name.upper()}_ISSUER"
            )
        for endpoint in _ENDPOINTS:
            url = document.get(endpoint)
            problem = issuer_problem(url) if isinstance(url, str) else "missing"
            if problem is not None:
                raise ProviderError(f"{provider.label}'s {endpoint} is not usable: {problem}")
        self._metadata[provider.name] = _Cached(document, time.monotonic())
        return document

    async def _key_set(self, provider: OidcProvider, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            cached = self._keys.get(provider.name)
            age = time.monotonic() - cached.fetched_at if cached is not None else None
            limit = JWKS_REFETCH_SECONDS if refresh else METADATA_SECONDS
            fresh = age is not None and age < limit
            if cached is not None and fresh:
                keys: KeySet = cached.value
                return keys
            metadata = await self.metadata(provider)
            document = await self._get_json(provider, metadata["jwks_uri"], "signing keys")
            try:
                keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (ValueError, TypeError, KeyError) as error:
                raise ProviderError(
                    f"{provider.label}'s signing keys are unusable ({error})"
                ) from None
            self._keys[provider.name] = _Cached(keys, time.monotonic())
            return keys

    async def _get_json(self, provider: OidcProvider, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise ProviderError(
                f"{provider.label}'s {what} could not be fetched from {url} ({error!s})"
            ) from None
        document = _json(response)
        if response.status_code != 200 or not isinstance(document, dict):
            raise ProviderError(
                f"{provider.label}'s {what} at {url} answered {response.status_code}, "
                "not a JSON document"
            )
        return document


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _decode(
    provider: OidcProvider, id_token: str, keys: KeySet, algorithms: list[str]
) -> jwt.Token:
    """Check the signature; an unknown key id is raised as is, to fetch the keys again."""
    try:
        return jwt.decode(id_token, keys, algorithms=algorithms)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as error:
        raise ProviderError(
            f"the ID token from {provider.label} is not validly signed ({error}); log in again"
        ) from None


def _claim_problem(error: JoseError) -> str:
    claim = getattr(error, "claim", None)
    return f"{claim}: {error.description or error.error}" if claim else str(error)
