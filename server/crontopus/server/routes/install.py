"""The server installs its own agents: installer scripts and a package index of the agent.

- `GET /install/agent.sh` and `/install/agent.ps1`: the installers, for this server;
- `GET /install/simple/` and `/install/simple/<project>/`: a PEP 503 simple index of the
  agent's wheels (crontopus-core, crontopus-drivers, crontopus-agent), so
  `pip install --extra-index-url <server>/install/simple/ crontopus-agent` works;
- `GET /install/wheels/<file>`: the wheels themselves (the installers name them by URL and
  sha256, so no other index can supply a Crontopus package to them).

None of it needs a credential: what it hands out is public code; enrolling needs a token.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from crontopus.server.installers.scripts import render
from crontopus.server.installers.wheels import (
    MISSING,
    WheelIndex,
    agent_wheel_directory,
    normalise,
    project_page,
    root_page,
)
from crontopus.server.settings import Settings

NO_CACHE = "no-cache"
MEDIA_TYPES = {"agent.sh": "text/x-shellscript", "agent.ps1": "text/plain"}


def install_routes(settings: Settings, directory: Path | None = None) -> list[BaseRoute]:
    """The /install/ routes; `directory` overrides where the agent's wheels are (tests)."""
    index = WheelIndex(directory or agent_wheel_directory(settings.agent_wheels))

    def server_url(request: Request) -> str:
        # Behind a proxy, base_url already carries the forwarded scheme (security/proxies.py).
        return (settings.public_url or str(request.base_url)).rstrip("/")

    async def script(request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        text = render(name, server_url(request), index.release())
        return PlainTextResponse(
            text, media_type=MEDIA_TYPES[name], headers={"Cache-Control": NO_CACHE}
        )

    async def simple_root(request: Request) -> Response:
        if not index.wheels():
            return PlainTextResponse(MISSING, status_code=404)
        return HTMLResponse(root_page(index), headers={"Cache-Control": NO_CACHE})

    async def simple_project(request: Request) -> Response:
        project = request.path_params["project"]
        if normalise(project) != project:
            # PEP 503: a name in another spelling redirects to the normalised one.
            return Response(status_code=301, headers={"Location": f"../{normalise(project)}/"})
        page = project_page(index, project)
        if page is None:
            message = MISSING if not index.wheels() else f"no project {project} here\n"
            return PlainTextResponse(message, status_code=404)
        return HTMLResponse(page, headers={"Cache-Control": NO_CACHE})

    async def wheel(request: Request) -> Response:
        found = index.find(request.path_params["filename"])
        if found is None:
            return PlainTextResponse("not found\n", status_code=404)
        # A wheel's name carries its version: the same name is the same bytes.
        return FileResponse(
            found.path,
            media_type="application/octet-stream",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return [
        Route("/install/agent.sh", script, methods=["GET", "HEAD"]),
        Route("/install/agent.ps1", script, methods=["GET", "HEAD"]),
        Route("/install/simple/", simple_root, methods=["GET", "HEAD"]),
        Route("/install/simple/{project}/", simple_project, methods=["GET", "HEAD"]),
        Route("/install/wheels/{filename}", wheel, methods=["GET", "HEAD"]),
    ]
