"""`GET /operator/exports/<id>`: an operator downloads a tenant export.

The same credential rule as the operator API: a signed-in operator's access token in
`Authorization: Bearer …`; anyone else is refused (401 without a valid credential, 403
for a credential that is not an operator's, 404 for an unknown export).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from crontopus.server.errors import AuthenticationFailed, NotFound, PermissionDenied
from crontopus.server.services.authentication import authenticate, bearer_token
from crontopus.server.services.platform.exports import export_for_download
from crontopus.server.state import app_state


def _error(status: int, message: str) -> Response:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"Cache-Control": "no-store"}
    )


async def download_export(request: Request) -> Response:
    state = app_state(request)
    try:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise AuthenticationFailed("send `Authorization: Bearer <operator access token>`")
        try:
            export_id = uuid.UUID(request.path_params["export_id"])
        except ValueError:
            raise NotFound("no such export: the id is not a UUID") from None
        async with state.session() as session:
            identity = await authenticate(session, state.settings, token, state.identities)
            _export, path = await export_for_download(
                session, identity.principal, state.settings, export_id
            )
    except AuthenticationFailed as error:
        return _error(401, error.message)
    except PermissionDenied as error:
        return _error(403, error.message)
    except NotFound as error:
        return _error(404, error.message)
    return FileResponse(
        path,
        media_type="application/gzip",
        filename=path.name,
        headers={"Cache-Control": "no-store"},
    )
