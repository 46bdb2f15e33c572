"""Security headers on every HTTP answer: CSP, frame and MIME-sniffing protection, HSTS.

The policy allows only this server's own scripts, styles, images and connections; the console
and the offline playground are built to run under it (no inline script, nothing from a CDN).
HSTS is sent only over https (as the client saw it, behind a trusted proxy too): over plain
http a browser ignores it, and on a server reached by address it would pin a name by mistake.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # GraphiQL and CodeMirror position elements with style attributes written by script.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000"

_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_HTTPS_HEADERS = [*_HEADERS, (b"strict-transport-security", HSTS.encode())]


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers to add to an HTTP answer to this request (HSTS only under https)."""
    return _HTTPS_HEADERS if scope.get("scheme") == "https" else _HEADERS


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response.

    Pure ASGI and cheap on purpose: it runs on every check-in, so it appends constant header
    pairs and nothing more (no route in Crontopus sets these headers itself).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
