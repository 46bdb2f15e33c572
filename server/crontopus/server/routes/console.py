"""The web console: built assets at `/` with an SPA fallback, and `/graphql` for browsers.

Hashed files under `/assets/` never change, so they are cached for a year; `index.html`
names them and is never cached, so a deploy takes effect on the next page load.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Paths the API owns: an unknown path below them is a 404, never the console's page.
API_ROOTS = frozenset({"graphql", "checkin", "git", "health", "ready", "metrics", "assets", "auth"})
NOT_BUILT = (
    "The Crontopus web console is not built. Build it with `make run` (needs Node 20+) or "
    "`npm --prefix web ci && npm --prefix web run build`; the API at /graphql works without it.\n"
)


def console_directory() -> Path | None:
    """Find the built console: inside the installed wheel, else in the source tree's web/dist."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "static", here.parents[4] / "web" / "dist"):
        if (candidate / "index.html").is_file():
            return candidate
    return None


def _inside(root: Path, relative: str) -> Path | None:
    path = (root / relative).resolve()
    if path.is_relative_to(root.resolve()) and path.is_file():
        return path
    return None


def console_routes(directory: Path | None = None) -> list[BaseRoute]:
    """Routes serving the console; put them last, after every API route."""
    root = directory or console_directory()

    async def asset(request: Request) -> Response:
        if root is None:
            return PlainTextResponse("not found\n", status_code=404)
        path = _inside(root / "assets", request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found\n", status_code=404)
        return FileResponse(path, headers={"Cache-Control": IMMUTABLE})

    async def page(request: Request) -> Response:
        route = "/" + request.path_params.get("path", "")
        if route.split("/", 2)[1] in API_ROOTS:
            return PlainTextResponse("not found\n", status_code=404)
        if root is None:
            return PlainTextResponse(NOT_BUILT, status_code=404)
        if route != "/" and (file := _inside(root, route.lstrip("/"))) is not None:
            return FileResponse(file, headers={"Cache-Control": NO_CACHE})
        if "." in route.rsplit("/", 1)[-1]:
            return PlainTextResponse("not found\n", status_code=404)
        return FileResponse(root / "index.html", headers={"Cache-Control": NO_CACHE})

    return [
        Route("/assets/{path:path}", asset, methods=["GET", "HEAD"]),
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/{path:path}", page, methods=["GET", "HEAD"]),
    ]


def wants_html(scope: Scope) -> bool:
    """Whether a request comes from a browser navigating (Accept names text/html)."""
    for name, value in scope.get("headers", []):
        if name == b"accept":
            return b"text/html" in value
    return False


class BrowserRedirect:
    """Send a browser's GET of /graphql to the bundled playground; pass the API through."""

    def __init__(self, app: ASGIApp, target: str = "/playground") -> None:
        self.app = app
        self.target = target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope.get("query_string")
            and wants_html(scope)
        ):
            await RedirectResponse(self.target, status_code=302)(scope, receive, send)
            return
        await self.app(scope, receive, send)
