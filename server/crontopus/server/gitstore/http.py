"""Git smart HTTP for job repositories: `git clone http://x:TOKEN@host/git/acme/jobs.git`.

The app answers the three requests of the smart protocol by running the real
`git upload-pack` / `git receive-pack` in `--stateless-rpc` mode. Pushes go
through the pre-receive hook of `ManagedGitStore.hooks_dir()`, which validates
them (see `validation.py`); an accepted push to `main` is reported to `on_push`.
An external store's mirrors are served read-only (fetched first, as any read):
a push is refused with the remote's URL, where it belongs.

Access: HTTP Basic with any user name and a token as password. No or a bad
token: 401 with a `WWW-Authenticate` challenge. A token that may not read the
tenant, or a tenant that does not exist: 404 either way, so tenants cannot be
probed. A token that may read but not write, pushing: 403.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, Router
from starlette.types import ASGIApp

from crontopus.server.availability import Unavailable, unavailability

from . import repository
from .external import ExternalGitStore
from .layout import BRANCH_REF
from .local import LocalGitStore
from .managed import ManagedGitStore
from .pktline import PushCommands, pkt_line
from .processes import ProcessSlots
from .validation import JOB_QUOTA_VARIABLE, ZERO_ID

log = logging.getLogger(__name__)

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
_CHUNK = 64 * 1024
#: The largest body a Git request may send, inflated: job repositories are small, disks are
#: not infinite (`CRONTOPUS_MAX_GIT_BODY`; the app's middleware checks the body as sent).
MAX_BODY = 32 * 1024 * 1024


class InflatedTooLarge(Exception):
    """A gzip-compressed Git request body inflated past the limit."""


@dataclass(frozen=True)
class GitAccess:
    """What a token may do with one tenant's repository."""

    can_read: bool
    can_write: bool
    #: Why a token of this very tenant may not read (403 with this text rather than 404).
    refusal: str | None = None
    #: The tenant's jobs quota for a push (None: the app's default).
    max_jobs: int | None = None


#: (tenant slug, password) → None for a token that is not valid at all (401),
#: GitAccess(False, False) for a valid token of another tenant (404), else its rights.
Authenticate = Callable[[str, str], Awaitable[GitAccess | None]]
#: (tenant slug, old commit or None, new commit) after a push moved `main`.
OnPush = Callable[[str, str | None, str], Awaitable[None]]


def _password(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password if sep and password else None


def _unauthorized() -> Response:
    return PlainTextResponse(
        "Authentication required: use any user name and a Crontopus token as password\n",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Crontopus"'},
    )


def _not_found() -> Response:
    return PlainTextResponse("Repository not found\n", status_code=404)


def _busy(slots: ProcessSlots) -> Response:
    return PlainTextResponse(
        f"The server is running as many git processes as it may ({slots.size}): "
        f"try again in {slots.retry_after} seconds\n",
        status_code=503,
        headers={"Retry-After": str(slots.retry_after)},
    )


def _read_only(store: ExternalGitStore, tenant: str) -> Response:
    """Refuse a push to a mirror the way git shows it: `fatal: remote error: …`."""
    message = (
        f"ERR this is a read-only mirror of {store.push_url(tenant)}: push your changes there "
        "(Crontopus fetches them and checks them before agents see them)"
    )
    return Response(
        pkt_line(f"# service={RECEIVE_PACK}\n") + b"0000" + pkt_line(message),
        media_type=f"application/x-{RECEIVE_PACK}-advertisement",
        headers={"Cache-Control": "no-cache"},
    )


def make_git_http_app(
    store: LocalGitStore,
    authenticate: Authenticate,
    on_push: OnPush,
    on_unavailable: Callable[[Unavailable], None] | None = None,
    *,
    max_body: int = MAX_BODY,
    processes: ProcessSlots | None = None,
    max_jobs: int | None = None,
) -> ASGIApp:
    """Build the ASGI app serving `/<tenant>/jobs.git/…`; mount it at `/git`."""
    # A store whose repositories Crontopus does not host is served read-only: no hooks.
    hooks = store.hooks_dir() if isinstance(store, ManagedGitStore) else None
    slots = processes or ProcessSlots()

    hook_options = ["-c", f"core.hooksPath={hooks}"] if hooks is not None else []

    def git_command(service: str, *args: str) -> list[str]:
        return [
            "git",
            *hook_options,
            "-c",
            # The external store's bookkeeping refs (a remote tip not adopted) are not served.
            "uploadpack.hideRefs=refs/crontopus",
            "-c",
            "receive.fsckObjects=true",
            "-c",
            f"receive.maxInputSize={max_body}",
            "-c",
            "safe.directory=*",
            service.removeprefix("git-"),
            "--stateless-rpc",
            *args,
        ]

    def environment(request: Request, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        # The push hook holds pushes to the tenant's jobs quota (gitstore/validation.py).
        env.pop(JOB_QUOTA_VARIABLE, None)
        # The tenant's own quota when an operator set one (authorize kept its access).
        access = getattr(request.state, "git_access", None)
        quota = access.max_jobs if isinstance(access, GitAccess) else None
        if quota is None:
            quota = max_jobs
        if quota is not None:
            env[JOB_QUOTA_VARIABLE] = str(quota)
        protocol = request.headers.get("git-protocol")
        # Protocol v2 exists for fetches only; pushes always speak v0.
        if protocol and service == UPLOAD_PACK:
            env["GIT_PROTOCOL"] = protocol
        return env

    async def authorize(request: Request, write: bool) -> Response | None:
        tenant = request.path_params["tenant"]
        password = _password(request)
        if password is None:
            return _unauthorized()
        try:
            access = await authenticate(tenant, password)
        except Exception as error:
            problem = unavailability(error)
            if problem is None:
                raise
            if on_unavailable is not None:
                on_unavailable(problem)
            return PlainTextResponse(
                f"{problem.message}\n",
                status_code=503,
                headers={"Retry-After": str(problem.retry_after)},
            )
        if access is None:
            return _unauthorized()
        if not access.can_read and access.refusal is not None:
            return PlainTextResponse(access.refusal + "\n", status_code=403)
        if not access.can_read:
            return _not_found()
        # An external mirror fetches first (at most once per interval; a remote that is
        # away leaves it stale), so a process that never served this tenant has it too.
        await store.refresh(tenant)
        if not await store.exists(tenant):
            return _not_found()
        if write and not access.can_write:
            return PlainTextResponse(
                "This token may read this repository but not push to it: "
                "use an API token with write scope\n",
                status_code=403,
            )
        request.state.git_access = access
        return None

    async def info_refs(request: Request) -> Response:
        service = request.query_params.get("service")
        if service not in (UPLOAD_PACK, RECEIVE_PACK):
            return PlainTextResponse(
                "Only Git's smart HTTP protocol is served: use git 1.6.6 or newer\n",
                status_code=403,
            )
        refused = await authorize(request, write=service == RECEIVE_PACK)
        if refused is not None:
            return refused
        if service == RECEIVE_PACK and isinstance(store, ExternalGitStore):
            return _read_only(store, request.path_params["tenant"])
        path = store.repo_path(request.path_params["tenant"])
        env = environment(request, service)
        release = await slots.take()
        if release is None:
            return _busy(slots)
        try:
            process = await asyncio.create_subprocess_exec(
                *git_command(service, "--advertise-refs", str(path)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            out, err = await process.communicate()
        finally:
            release()
        if process.returncode != 0:
            log.error("%s --advertise-refs failed for %s: %s", service, path, err.decode())
            return PlainTextResponse("git failed\n", status_code=500)
        body = out
        if "version=2" not in env.get("GIT_PROTOCOL", ""):
            body = pkt_line(f"# service={service}\n") + b"0000" + out
        return Response(
            body,
            media_type=f"application/x-{service}-advertisement",
            headers={"Cache-Control": "no-cache"},
        )

    async def rpc(request: Request, service: str) -> Response:
        refused = await authorize(request, write=service == RECEIVE_PACK)
        if refused is not None:
            return refused
        if service == RECEIVE_PACK and hooks is None:
            return PlainTextResponse("This repository is a read-only mirror\n", status_code=403)
        tenant = request.path_params["tenant"]
        path = store.repo_path(tenant)
        release = await slots.take()
        if release is None:
            return _busy(slots)
        try:
            process = await asyncio.create_subprocess_exec(
                *git_command(service, str(path)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=environment(request, service),
            )
        except BaseException:
            release()
            raise
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        # Pump output while the request body is still arriving: git may answer early,
        # and a full pipe would otherwise stall both sides.
        output: asyncio.Queue[bytes] = asyncio.Queue()
        pump = asyncio.create_task(_pump(process.stdout, output))
        errors = asyncio.create_task(process.stderr.read())
        commands = PushCommands()
        try:
            await _feed(
                request, process.stdin, commands if service == RECEIVE_PACK else None, max_body
            )
        except BaseException as error:
            # Whatever stopped the body (a client gone, a limit, a cancellation), git must not
            # be left waiting for the rest of it.
            if process.returncode is None:
                process.kill()
            await process.wait()
            pump.cancel()
            errors.cancel()
            release()
            if isinstance(error, InflatedTooLarge):
                return PlainTextResponse(
                    f"The request body inflates past {max_body} bytes, the most a Git request "
                    "may carry; the server's operator sets this limit with "
                    "CRONTOPUS_MAX_GIT_BODY\n",
                    status_code=413,
                )
            if not isinstance(error, (ClientDisconnect, ConnectionError, zlib.error)):
                raise
            log.warning("%s request for %s broke off: %s", service, tenant, error)
            return PlainTextResponse("bad request body\n", status_code=400)

        async def end() -> None:
            try:
                await _finish(process, pump, errors, f"{service} for {tenant}")
            finally:
                release()
            if service == RECEIVE_PACK:
                await _announce(store, tenant, commands.commands, on_push)

        # The ending runs as its own task: a pusher who hangs up early must not
        # cancel on_push for a push that landed. The response still waits for it.
        ending = asyncio.create_task(end())
        _tasks.add(ending)
        ending.add_done_callback(_tasks.discard)

        async def body() -> AsyncIterator[bytes]:
            while chunk := await output.get():
                yield chunk
            await asyncio.shield(ending)

        return StreamingResponse(
            body(),
            media_type=f"application/x-{service}-result",
            headers={"Cache-Control": "no-cache"},
        )

    async def upload_pack(request: Request) -> Response:
        return await rpc(request, UPLOAD_PACK)

    async def receive_pack(request: Request) -> Response:
        return await rpc(request, RECEIVE_PACK)

    return Router(
        routes=[
            Route("/{tenant}/jobs.git/info/refs", info_refs, methods=["GET"]),
            Route("/{tenant}/jobs.git/git-upload-pack", upload_pack, methods=["POST"]),
            Route("/{tenant}/jobs.git/git-receive-pack", receive_pack, methods=["POST"]),
        ]
    )


#: Endings of git processes still running (asyncio holds only weak references).
_tasks: set[asyncio.Task[None]] = set()


async def _finish(
    process: asyncio.subprocess.Process,
    pump: asyncio.Task[None],
    errors: asyncio.Task[bytes],
    what: str,
) -> None:
    """Wait for git to exit after its output was read; log what it said on failure."""
    await pump
    status = await process.wait()
    stderr = (await errors).decode(errors="replace").strip()
    if status != 0:
        log.info("%s exited %s: %s", what, status, stderr)


async def _pump(stream: asyncio.StreamReader, queue: asyncio.Queue[bytes]) -> None:
    while True:
        chunk = await stream.read(_CHUNK)
        await queue.put(chunk)
        if not chunk:
            return


async def _feed(
    request: Request, stdin: asyncio.StreamWriter, commands: PushCommands | None, limit: int
) -> None:
    encoding = request.headers.get("content-encoding", "").lower()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip") else None
    inflated = 0
    try:
        async for chunk in request.stream():
            if inflate is not None:
                # Inflate at most one byte past what is left: a small chunk of a zip bomb
                # must not expand in memory before it is counted.
                data = inflate.decompress(chunk, limit - inflated + 1)
                inflated += len(data)
                if inflated > limit:
                    raise InflatedTooLarge
            else:
                data = chunk
            if commands is not None:
                commands.feed(data)
            stdin.write(data)
            await stdin.drain()
        if inflate is not None:
            tail = inflate.flush()
            if inflated + len(tail) > limit:
                raise InflatedTooLarge
            if commands is not None:
                commands.feed(tail)
            stdin.write(tail)
            await stdin.drain()
    finally:
        stdin.close()


async def _announce(
    store: LocalGitStore,
    tenant: str,
    commands: list[tuple[str, str, str]],
    on_push: OnPush,
) -> None:
    """Tell the server about every push that moved `main` to what the pusher sent."""
    path = store.repo_path(tenant)
    for old, new, ref in commands:
        if ref != BRANCH_REF or new == ZERO_ID or old == new:
            continue
        current = await asyncio.to_thread(
            lambda: repository.head_id(repository.open_repository(path))
        )
        if current != new:
            continue  # refused by the hook, or lost a race: nothing landed
        try:
            await on_push(tenant, None if old == ZERO_ID else old, new)
        except Exception:
            log.exception("on_push failed for %s %s..%s", tenant, old, new)
