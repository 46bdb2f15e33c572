"""The `crontopus-server` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from crontopus.server.errors import ConfigurationError, ServiceError
from crontopus.server.version import server_version


def main(argv: Sequence[str] | None = None) -> int:
    """Run `crontopus-server`; return the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _configure_logging(args.log_level)
        return int(args.run(args) or 0)
    except ConfigurationError as error:
        print(f"crontopus-server: configuration error: {error}", file=sys.stderr)
        return 2
    except ServiceError as error:
        print(f"crontopus-server: {error.message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crontopus-server",
        description="The Crontopus server. Configuration comes from CRONTOPUS_* variables.",
    )
    parser.add_argument(
        "--version", action="version", version=f"crontopus-server {server_version()}"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument("--migrate", action="store_true", help="migrate the database first")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="migrate the database to the latest schema")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(run=_migrate)

    create_user = commands.add_parser(
        "create-user", help="create a user (and a tenant they own) even when sign-up is off"
    )
    create_user.add_argument("username")
    create_user.add_argument("--email", required=True)
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create_user.add_argument(
        "--operator",
        action="store_true",
        help="make the user a platform operator (administers every tenant)",
    )
    create_user.set_defaults(run=_create_user)

    reset = commands.add_parser(
        "reset-password",
        help="set a user's password and end their sessions (when no reset mail can reach them)",
    )
    reset.add_argument("username")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    reset.set_defaults(run=_reset_password)

    operator = commands.add_parser(
        "operator", help="make a user a platform operator, or stop them being one"
    )
    operator_commands = operator.add_subparsers(required=True, metavar="ACTION")
    for action, text in (
        ("promote", "make USER a platform operator"),
        ("demote", "take USER's operator rights away"),
    ):
        command = operator_commands.add_parser(action, help=text)
        command.add_argument("username", metavar="USER")
        command.set_defaults(run=_operator, promote=action == "promote")

    worker = commands.add_parser(
        "worker", help="run alert evaluation and notification delivery without the API"
    )
    worker.add_argument(
        "--metrics-port", type=int, help="serve this worker's Prometheus metrics on 127.0.0.1:PORT"
    )
    worker.set_defaults(run=_worker)

    backup = commands.add_parser(
        "backup", help="write the database, the Git repositories and the secret key to a file"
    )
    backup.add_argument("output", type=Path, help="the archive to write (e.g. crontopus.tar.gz)")
    backup.add_argument("--pg-dump", metavar="PATH", help="the pg_dump to use (PostgreSQL)")
    backup.set_defaults(run=_backup)

    restore = commands.add_parser(
        "restore", help="put a backup's database, Git repositories and secret key back"
    )
    restore.add_argument("archive", type=Path, help="an archive written by `backup`")
    restore.add_argument(
        "--force", action="store_true", help="replace existing repositories (stop the server first)"
    )
    restore.add_argument("--pg-restore", metavar="PATH", help="the pg_restore to use (PostgreSQL)")
    restore.set_defaults(run=_restore)

    rotate = commands.add_parser(
        "rotate-secrets",
        help="seal every stored secret again with the first key of CRONTOPUS_SECRETS_KEY",
    )
    rotate.set_defaults(run=_rotate_secrets)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")
    export.set_defaults(run=_export_schema)
    return parser


def _configure_logging(level: str) -> None:
    from crontopus.server.observability.logging import configure_logging
    from crontopus.server.settings import log_format_of

    configure_logging(level, log_format_of(os.environ.get("CRONTOPUS_LOG_FORMAT", "")))


def _worker(args: argparse.Namespace) -> int:
    from crontopus.server.settings import Settings
    from crontopus.server.worker import run_worker

    settings = Settings.from_env()
    print("Crontopus worker: alert cycles and notification delivery", file=sys.stderr)
    asyncio.run(run_worker(settings, args.metrics_port))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.serving import prepare_process, uvicorn_options
    from crontopus.server.settings import Settings

    settings = Settings.from_env()
    if args.migrate:
        asyncio.run(upgrade(settings.database_url))
    print(f"Crontopus listening on http://{args.host}:{args.port}/graphql", file=sys.stderr)
    app = create_app(settings)
    prepare_process()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # keep Crontopus's structured handlers (configured in main)
        **uvicorn_options(settings),
    )
    return 0


def _backup(args: argparse.Namespace) -> int:
    from crontopus.server.backup.archive import create_backup
    from crontopus.server.settings import Settings

    summary = create_backup(Settings.from_env(), args.output, args.pg_dump)
    key = (
        "the secret key" if summary.secret_key else "no secret key (it comes from the environment)"
    )
    print(
        f"backed up the {summary.database} database, {summary.repositories} Git repositories"
        f" and {key} to {summary.path}",
        file=sys.stderr,
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from crontopus.server.backup.archive import restore_backup
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.settings import Settings

    settings = Settings.from_env()
    summary = restore_backup(settings, args.archive, force=args.force, pg_restore=args.pg_restore)
    # A backup of an older version restores to that version's schema: bring it up to date.
    asyncio.run(upgrade(settings.database_url))
    print(
        f"restored the {summary.database} database, {summary.repositories} Git repositories"
        f"{' and the secret key' if summary.secret_key else ''} from {summary.path}"
        f" (written by Crontopus {summary.version}); the database is migrated to this version",
        file=sys.stderr,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.settings import Settings

    settings = Settings.from_env()
    asyncio.run(upgrade(settings.database_url, args.revision))
    print(f"database migrated to {args.revision}", file=sys.stderr)
    return 0


def _create_user(args: argparse.Namespace) -> int:
    from crontopus.server.settings import Settings

    settings = Settings.from_env()
    password = _read_password(args)
    if password is None:
        return 1
    tenant = asyncio.run(
        _create_user_async(settings, args.username, args.email, password, args.operator)
    )
    role = " (a platform operator)" if args.operator else ""
    print(f"created user {args.username}{role} owning tenant {tenant}", file=sys.stderr)
    return 0


async def _create_user_async(
    settings: object, username: str, email: str, password: str, operator: bool = False
) -> str:
    from crontopus.server.app import create_state
    from crontopus.server.services.accounts import create_account
    from crontopus.server.services.platform.operators import set_operator
    from crontopus.server.settings import Settings

    assert isinstance(settings, Settings)
    state = create_state(settings)
    try:
        async with state.session() as session:
            user, tenant = await create_account(
                session,
                settings.password_policy,
                username,
                email,
                password,
                state.on_tenant_created,
            )
            # An operator vouches for the address: verification cannot lock this account out.
            user.email_verified_at = user.created_at
            if operator:
                await set_operator(session, user.username, True)
            await session.commit()
            return tenant.slug
    finally:
        await state.engine.dispose()


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != password:
        print("crontopus-server: the passwords differ", file=sys.stderr)
        return None
    return password


def _reset_password(args: argparse.Namespace) -> int:
    from crontopus.server.settings import Settings

    settings = Settings.from_env()
    password = _read_password(args)
    if password is None:
        return 1
    ended = asyncio.run(_reset_password_async(settings, args.username, password))
    name = args.username.strip().lower()
    print(f"set a new password for {name}; ended {ended} session(s)", file=sys.stderr)
    return 0


async def _reset_password_async(settings: object, username: str, password: str) -> int:
    from crontopus.server.db.engine import create_engine, create_session_factory
    from crontopus.server.services.password_reset import set_password
    from crontopus.server.settings import Settings

    assert isinstance(settings, Settings)
    engine = create_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        async with create_session_factory(engine)() as session:
            return await set_password(session, settings, username, password)
    finally:
        await engine.dispose()


def _rotate_secrets(args: argparse.Namespace) -> int:
    from crontopus.server.settings import Settings

    settings = Settings.from_env()
    count = asyncio.run(_rotate_secrets_async(settings))
    print(f"sealed {count} secret(s) again with the current key", file=sys.stderr)
    return 0


async def _rotate_secrets_async(settings: object) -> int:
    from crontopus.server.db.engine import create_engine, create_session_factory
    from crontopus.server.security.secret_box import SecretBoxError, secret_box
    from crontopus.server.services.secrets import rotate_secrets
    from crontopus.server.settings import Settings

    assert isinstance(settings, Settings)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await rotate_secrets(session, secret_box(settings))
    except SecretBoxError as error:
        raise ServiceError(f"{error}; nothing was changed") from None
    finally:
        await engine.dispose()


def _operator(args: argparse.Namespace) -> int:
    from crontopus.server.settings import Settings

    changed = asyncio.run(_set_operator(Settings.from_env(), args.username, args.promote))
    name = args.username.strip().lower()
    if args.promote:
        done = "is now" if changed else "was already"
        print(f"{name} {done} a platform operator", file=sys.stderr)
    else:
        done = "is no longer" if changed else "was not"
        # Other server processes notice within CRONTOPUS_AUTH_CACHE_SECONDS.
        print(f"{name} {done} a platform operator", file=sys.stderr)
    return 0


async def _set_operator(settings: object, username: str, promote: bool) -> bool:
    from crontopus.server.db.engine import create_engine, create_session_factory
    from crontopus.server.services.platform.operators import set_operator
    from crontopus.server.settings import Settings

    assert isinstance(settings, Settings)
    engine = create_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        async with create_session_factory(engine)() as session:
            changed = await set_operator(session, username, promote)
            await session.commit()
            return changed
    finally:
        await engine.dispose()


def _export_schema(args: argparse.Namespace) -> int:
    from crontopus.server.graphql.schema import schema_sdl

    sdl = schema_sdl()
    if args.output:
        args.output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0
