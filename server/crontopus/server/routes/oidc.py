"""`GET /auth/oidc/{provider}/start` and `/callback`: logging in through an OpenID Connect
provider (authorization code flow with PKCE), ending like a password login from the console.

The callback sets the same refresh cookie as `login(useCookie: true)` and sends the browser to
the console, whose first `POST /auth/refresh` then brings the session up. Whatever goes wrong
sends the browser to the login page with a message (`/login?sso_error=…`).
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from crontopus.server.errors import ServiceError
from crontopus.server.security.addresses import client_address
from crontopus.server.security.cookies import set_refresh_cookie
from crontopus.server.services.sessions import Device
from crontopus.server.services.single_sign_on import sign_in
from crontopus.server.sso.client import ProviderError
from crontopus.server.sso.config import OidcProvider
from crontopus.server.sso.transaction import (
    TRANSACTION_COOKIE,
    Transaction,
    clear_transaction_cookie,
    set_transaction_cookie,
    unseal,
)
from crontopus.server.sso.urls import redirect_uri
from crontopus.server.state import app_state

NO_STORE = {"Cache-Control": "no-store"}
MAX_MESSAGE = 500


def _console_path(value: str | None) -> str | None:
    # Only a path of this server: "//host" or "/\\host" would send the browser elsewhere.
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    return value[:2000]


def _to_login(request: Request, message: str) -> Response:
    response = RedirectResponse(
        f"/login?sso_error={quote(message[:MAX_MESSAGE])}", status_code=303, headers=NO_STORE
    )
    clear_transaction_cookie(response, request)
    return response


def _provider(request: Request) -> OidcProvider | None:
    return app_state(request).settings.oidc_provider(request.path_params["provider"])


async def start(request: Request) -> Response:
    """Send the browser to the provider's login, remembering the attempt in a signed cookie."""
    state = app_state(request)
    provider = _provider(request)
    if provider is None:
        return PlainTextResponse(
            f"no single sign-on provider named {request.path_params['provider']!r} "
            "(the identityProviders query lists them)\n",
            status_code=404,
            headers=NO_STORE,
        )
    transaction = Transaction.begin(
        provider.name,
        tenant=request.query_params.get("tenant") or None,
        next_path=_console_path(request.query_params.get("next")),
    )
    try:
        url = await state.oidc.authorization_url(
            provider, redirect_uri(request, state.settings, provider), transaction
        )
    except ProviderError as error:
        return _to_login(request, error.message)
    response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    set_transaction_cookie(response, request, transaction, state.settings.secret_key)
    return response


async def callback(request: Request) -> Response:
    """Check the provider's answer against the attempt, verify the ID token, open a session."""
    state = app_state(request)
    settings = state.settings
    provider = _provider(request)
    if provider is None:
        return _to_login(request, "this single sign-on provider is no longer offered")
    query = request.query_params
    if refusal := query.get("error"):
        described = query.get("error_description") or refusal
        return _to_login(request, f"{provider.label} did not log you in: {described}")
    cookie = request.cookies.get(TRANSACTION_COOKIE, "")
    transaction = unseal(cookie, settings.secret_key) if cookie else None
    if transaction is None or transaction.provider != provider.name or transaction.expired():
        return _to_login(
            request,
            f"this browser has no login with {provider.label} in progress (it took over ten "
            "minutes, or was started in another browser); log in again",
        )
    if not hmac.compare_digest(query.get("state", "").encode(), transaction.state.encode()):
        return _to_login(
            request,
            f"the answer from {provider.label} does not belong to the login this browser "
            "started (its state differs); log in again",
        )
    code = query.get("code")
    if not code:
        return _to_login(request, f"{provider.label} answered without a login code")
    try:
        claims = await state.oidc.redeem(
            provider, redirect_uri(request, settings, provider), code, transaction
        )
    except ProviderError as error:
        return _to_login(request, error.message)
    device = Device(client_address(request), request.headers.get("user-agent", ""))
    try:
        async with state.session() as session:
            result = await sign_in(
                session,
                settings,
                state.limiter,
                provider,
                claims,
                transaction.tenant,
                device,
                state.on_tenant_created,
            )
    except ServiceError as error:
        return _to_login(request, error.message)
    response = RedirectResponse(transaction.next_path or "/", status_code=303, headers=NO_STORE)
    set_refresh_cookie(response, request, settings, result.refresh_token)
    clear_transaction_cookie(response, request)
    return response
