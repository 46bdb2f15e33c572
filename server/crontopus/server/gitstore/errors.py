"""Errors raised by the Crontopus Git store.

GitStoreError
├── RepositoryNotFoundError      the tenant has no repository (yet)
├── CommitNotFoundError          a commit id the repository does not hold
├── RemoteError                  an external remote could not be fetched or pushed
├── InvalidChangeError           a change breaks the repository layout
│   └── ProtectedNamespaceError  a change would remove `default/` or `discovered/`
└── ConflictError                the repository moved under the caller's feet
    ├── NamespaceExistsError     mkdir of a namespace that already exists
    └── NamespaceNotEmptyError   rmdir of a namespace that still holds files
"""

from __future__ import annotations


class GitStoreError(Exception):
    """Base class of every Git store error."""


class RepositoryNotFoundError(GitStoreError):
    """The tenant has no repository."""

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"tenant {tenant!r} has no job repository: create it with ensure_repository()"
        )
        self.tenant = tenant


class CommitNotFoundError(GitStoreError):
    """The repository holds no commit with this id."""

    def __init__(self, commit_id: str) -> None:
        super().__init__(
            f"commit {commit_id!r} is not in the job repository: use an id from the history"
        )
        self.commit_id = commit_id


class RemoteError(GitStoreError):
    """An external remote could not be reached, fetched from or pushed to."""


class InvalidChangeError(GitStoreError):
    """A change would break the repository layout (a bad path or namespace)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class ProtectedNamespaceError(InvalidChangeError):
    """A change would remove a namespace that always exists, or use a reserved one."""


class ConflictError(GitStoreError):
    """A file or the branch changed since the caller read it; nothing was written."""

    def __init__(
        self,
        path: str,
        expected: str | None,
        current: str | None,
        message: str | None = None,
    ) -> None:
        if message is None:
            message = (
                f"{path}: changed meanwhile (expected blob {expected or 'none'}, "
                f"found {current or 'none'}): read it again and reapply the change"
            )
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.current = current


class NamespaceExistsError(ConflictError):
    """The namespace to create already exists."""

    def __init__(self, namespace: str) -> None:
        super().__init__(
            f"{namespace}/",
            None,
            namespace,
            f"namespace {namespace!r} already exists: pick another name",
        )
        self.namespace = namespace


class NamespaceNotEmptyError(ConflictError):
    """The namespace to delete still holds files."""

    def __init__(self, namespace: str, files: int) -> None:
        super().__init__(
            f"{namespace}/",
            None,
            namespace,
            f"namespace {namespace!r} still holds {files} file(s): delete or move its jobs first",
        )
        self.namespace = namespace
        self.files = files
