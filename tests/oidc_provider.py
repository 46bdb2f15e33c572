"""A real OpenID Connect provider for tests: Authlib's authorization server (authorization
code grant, PKCE, OpenID Connect ID tokens) on a small Starlette app, served by uvicorn on a
loopback port, with its own RSA key published as a JWKS.

It approves every authorization request at once, as `person` (no login page). A test can make
it misbehave the way a broken or hostile provider would: `nonce_override` puts another nonce
in the ID token, `code_lifetime` 0 makes every code expire before it is redeemed.

`python -m tests.oidc_provider --email ... --redirect-uri ...` serves one until it is killed
(the browser tests do); it prints its issuer URL on the first line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLIENT_ID = "crontopus"
CLIENT_SECRET = "provider-client-secret"
KEY_ID = "test-signing-key"


@dataclass
class Person:
    """Who is logged in at the provider."""

    subject: str
    email: str
    email_verified: bool = True
    preferred_username: str | None = None
    name: str | None = None


@dataclass
class _Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return not self.redirect_uris or redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    person: Person
    issued_at: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.issued_at)

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    """The provider's state: its key, client, person and codes (one process, in memory)."""

    def __init__(self, person: Person, redirect_uris: list[str] | None = None) -> None:
        self.person = person
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        self.client = _Client(CLIENT_ID, CLIENT_SECRET, redirect_uris or [])
        self.codes: dict[str, _Code] = {}
        self.code_lifetime = 60.0
        self.nonce_override: str | None = None
        self.issuer = ""
        self.server = self._authorization_server()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> _Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                pass

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

            def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
                return request  # built from the Starlette request by the routes below

            def handle_response(
                self, status: int, body: Any, headers: list[tuple[str, str]]
            ) -> Response:
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body or "", status_code=status, headers=dict(headers))

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = _Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.scope,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    person=request.user,
                )

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                found = provider.codes.get(code)
                if found is None or found.client_id != client.client_id:
                    return None
                if time.time() - found.issued_at >= provider.code_lifetime:
                    return None  # expired: answered invalid_grant
                return found

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> Person:
                return authorization_code.person

        class IdTokens(OpenIDCode):  # type: ignore[misc]
            def resolve_client_private_key(self, client: _Client) -> KeySet:
                return KeySet([provider.key])

            def get_client_claims(self, client: _Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def get_encode_header(self, client: _Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": KEY_ID}

            def get_client_algorithm(self, client: _Client) -> str:
                return "RS256"

            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def get_authorization_code_claims(self, authorization_code: _Code) -> dict[str, Any]:
                claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
                if provider.nonce_override is not None:
                    claims["nonce"] = provider.nonce_override
                return claims

            def generate_user_info(self, user: Person, scope: str) -> UserInfo:
                info = UserInfo(sub=user.subject)
                if "email" in scope.split():
                    info["email"] = user.email
                    info["email_verified"] = user.email_verified
                if "profile" in scope.split():
                    if user.preferred_username:
                        info["preferred_username"] = user.preferred_username
                    if user.name:
                        info["name"] = user.name
                return info

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator(
            "default", BearerTokenGenerator(lambda **_: generate_token(42))
        )
        server.register_grant(
            CodeGrant, [CodeChallenge(required=True), IdTokens(require_nonce=True)]
        )
        return server

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        """Approve at once, as `person`: the test's browser never sees a login form."""
        oauth = _oauth_request(request, dict(request.query_params))
        grant = self.server.get_consent_grant(oauth, end_user=self.person)
        response: Response = self.server.create_authorization_response(
            oauth, grant_user=self.person, grant=grant
        )
        return response

    async def token(self, request: Request) -> Response:
        # A urlencoded body, parsed here (Starlette's form parser needs another package).
        form = dict(parse_qsl((await request.body()).decode()))
        response: Response = self.server.create_token_response(_oauth_request(request, form))
        return response


class _Request(OAuth2Request):  # type: ignore[misc]
    """Authlib's request over what a Starlette request carried (read before, as it is async)."""

    def __init__(self, request: Request, data: dict[str, str]) -> None:
        # Starlette's headers, not a dict: Authlib asks for "Authorization", the wire says
        # "authorization".
        super().__init__(request.method, str(request.url), headers=request.headers)
        self.payload = BasicOAuth2Payload(data)
        self._data = data

    @property
    def args(self) -> dict[str, str]:
        return self._data if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self._data if self.method == "POST" else {}


def _oauth_request(request: Request, data: dict[str, str]) -> OAuth2Request:
    return _Request(request, data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_provider(provider: Provider) -> AsyncIterator[Provider]:
    """Serve `provider` on a loopback port until the block ends; its issuer is set meanwhile."""
    port = free_port()
    provider.issuer = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(provider.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the OIDC provider did not start"
        await asyncio.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        await task


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--email", required=True)
    parser.add_argument("--subject", default="e2e-subject")
    parser.add_argument("--username")
    args = parser.parse_args()
    person = Person(args.subject, args.email, preferred_username=args.username)
    async with serve_provider(Provider(person)) as provider:
        print(json.dumps({"issuer": provider.issuer}), flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
