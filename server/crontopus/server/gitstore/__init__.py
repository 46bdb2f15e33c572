"""The per-tenant Git store: job manifests live in one Git repository per tenant."""

from .errors import (
    CommitNotFoundError,
    ConflictError,
    GitStoreError,
    InvalidChangeError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    ProtectedNamespaceError,
    RemoteError,
    RepositoryNotFoundError,
)
from .external import ExternalGitStore, ExternalRemote
from .http import GitAccess, make_git_http_app
from .managed import ManagedGitStore
from .model import (
    Author,
    Change,
    Delete,
    HistoryEntry,
    JobEntry,
    Mkdir,
    NamespaceInfo,
    Put,
    Rmdir,
    Snapshot,
)
from .store import GitStore, JobChange, JobChangeKind
from .validation import validate_push, validate_ref_update

__all__ = [
    "Author",
    "Change",
    "CommitNotFoundError",
    "ConflictError",
    "Delete",
    "ExternalGitStore",
    "ExternalRemote",
    "GitAccess",
    "GitStore",
    "GitStoreError",
    "HistoryEntry",
    "InvalidChangeError",
    "JobChange",
    "JobChangeKind",
    "JobEntry",
    "ManagedGitStore",
    "Mkdir",
    "NamespaceExistsError",
    "NamespaceInfo",
    "NamespaceNotEmptyError",
    "ProtectedNamespaceError",
    "Put",
    "RemoteError",
    "RepositoryNotFoundError",
    "Rmdir",
    "Snapshot",
    "make_git_http_app",
    "validate_push",
    "validate_ref_update",
]
