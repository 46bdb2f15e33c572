"""The backup archive: a gzip'd tar of a manifest, the database, the Git store and the key.

manifest.json          format, Crontopus version, database kind, time, what is inside
database.sqlite3       (SQLite) or database.pgdump (PostgreSQL, pg_dump's custom format)
git/...                the managed Git repositories, as they are on disk
secret_key             the generated secret key, when the server uses one
secrets_key            the generated key of the secret store, when the server uses one
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crontopus.server.backup import database
from crontopus.server.errors import ServiceError
from crontopus.server.settings import SECRET_KEY_FILE, SECRETS_KEY_FILE, Settings
from crontopus.server.version import server_version

FORMAT = 1
MANIFEST = "manifest.json"
GIT = "git"
SECRET = "secret_key"


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds or a restore put back."""

    path: Path
    database: str
    repositories: int
    secret_key: bool
    version: str


def _git_dir(settings: Settings) -> Path:
    return settings.data_dir / GIT


def _is_reference(path: Path) -> bool:
    return path.name in ("HEAD", "packed-refs") or "refs" in path.parts


def _add_repositories(archive: tarfile.TarFile, root: Path) -> int:
    """Add the Git store, every repository's references before its objects; return the count.

    Objects are only ever added, and references only move to objects that exist: reading the
    references first means every commit they name is among the objects read after them, even
    while a push lands during the backup.
    """
    paths = sorted(root.rglob("*"))
    for path in sorted(paths, key=lambda p: not _is_reference(p.relative_to(root))):
        # Directories too: an empty refs/heads is part of a valid repository.
        archive.add(path, f"{GIT}/{path.relative_to(root)}", recursive=False)
    return sum(1 for p in paths if p.name == "objects" and (p.parent / "HEAD").is_file())


def create_backup(settings: Settings, output: Path, pg_dump: str | None = None) -> BackupSummary:
    """Write a backup archive of the server's database, Git store and secret key."""
    kind = database.kind_of(settings.database_url)
    output = output.absolute()
    output.parent.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / SECRET_KEY_FILE
    with tempfile.TemporaryDirectory(prefix="crontopus-backup-") as scratch:
        if kind == "sqlite":
            dump = Path(scratch) / database.SQLITE_MEMBER
            database.backup_sqlite(settings.database_url, dump)
        else:
            dump = Path(scratch) / database.POSTGRES_MEMBER
            database.backup_postgres(settings.database_url, dump, pg_dump)
        staged = output.with_name(f".{output.name}.partial")
        with tarfile.open(staged, "w:gz") as archive:
            archive.add(dump, dump.name)
            git_root = _git_dir(settings)
            repositories = _add_repositories(archive, git_root) if git_root.is_dir() else 0
            has_key = key_file.is_file()
            if has_key:
                archive.add(key_file, SECRET)
            # Without the key that sealed them, the database's secrets could not be read.
            if (settings.data_dir / SECRETS_KEY_FILE).is_file():
                archive.add(settings.data_dir / SECRETS_KEY_FILE, SECRETS_KEY_FILE)
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "version": server_version(),
                "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": kind,
                "repositories": repositories,
                "secretKey": has_key,
            }
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n")
        os.chmod(staged, 0o600)  # it holds the secret key and every hashed credential
        os.replace(staged, output)
    return BackupSummary(output, kind, repositories, has_key, server_version())


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def read_manifest(archive: tarfile.TarFile, path: Path) -> dict[str, Any]:
    """Return the archive's manifest, or say why it is not a Crontopus backup."""
    try:
        member = archive.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise ServiceError(f"{path}: not a Crontopus backup (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise ServiceError(
            f"{path}: backup format {manifest.get('format')!r} is not {FORMAT}: restore it with"
            f" the Crontopus version that wrote it ({manifest.get('version')})"
        )
    return manifest


def restore_backup(
    settings: Settings, source: Path, *, force: bool = False, pg_restore: str | None = None
) -> BackupSummary:
    """Put a backup's database, Git store and secret key back in place of the current ones."""
    kind = database.kind_of(settings.database_url)
    try:
        archive = tarfile.open(source, "r:gz")  # noqa: SIM115 - entered below, once opened
    except (OSError, tarfile.TarError) as exc:
        raise ServiceError(f"{source}: cannot read the backup: {exc}") from None
    with archive, tempfile.TemporaryDirectory(prefix="crontopus-restore-") as scratch:
        manifest = read_manifest(archive, source)
        if manifest["database"] != kind:
            raise ServiceError(
                f"{source}: holds a {manifest['database']} database but CRONTOPUS_DATABASE_URL"
                f" is {kind}: point it at a {manifest['database']} database to restore into"
            )
        git_root = _git_dir(settings)
        if not force and git_root.is_dir() and any(git_root.iterdir()):
            raise ServiceError(
                f"{git_root}: holds repositories already: stop the server and pass --force to"
                " replace the database, the repositories and the secret key with the backup's"
            )
        # The "data" filter refuses absolute paths, links out of the tree and device files.
        archive.extractall(scratch, filter="data")
        unpacked = Path(scratch)
        if kind == "sqlite":
            database.restore_sqlite(settings.database_url, unpacked / database.SQLITE_MEMBER)
        else:
            database.restore_postgres(
                settings.database_url, unpacked / database.POSTGRES_MEMBER, pg_restore
            )
        if git_root.exists():
            shutil.rmtree(git_root)
        if (unpacked / GIT).is_dir():
            shutil.copytree(unpacked / GIT, git_root)
        else:
            git_root.mkdir(parents=True)
        if (unpacked / SECRET).is_file():
            key = settings.data_dir / SECRET_KEY_FILE
            shutil.copyfile(unpacked / SECRET, key)
            os.chmod(key, 0o600)
        if (unpacked / SECRETS_KEY_FILE).is_file():
            key = settings.data_dir / SECRETS_KEY_FILE
            shutil.copyfile(unpacked / SECRETS_KEY_FILE, key)
            os.chmod(key, 0o600)
    return BackupSummary(
        source,
        kind,
        int(manifest.get("repositories", 0)),
        bool(manifest.get("secretKey")),
        str(manifest.get("version")),
    )
