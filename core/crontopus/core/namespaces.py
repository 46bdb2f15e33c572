"""Namespace names: the directories of a tenant's job repository."""

from __future__ import annotations

import re
from typing import Final

from crontopus.core.errors import NamespaceError

DEFAULT_NAMESPACE: Final = "default"
DISCOVERED_NAMESPACE: Final = "discovered"
SYSTEM_NAMESPACE: Final = "system"

#: Namespaces that always exist and cannot be deleted.
PROTECTED_NAMESPACES: Final = frozenset({DEFAULT_NAMESPACE, DISCOVERED_NAMESPACE})
#: Names no one may create or put jobs into.
RESERVED_NAMESPACES: Final = frozenset({SYSTEM_NAMESPACE})

MAX_NAME_LENGTH: Final = 63
# The Kubernetes namespace rule (an RFC 1123 label); job names follow it too.
NAME_PATTERN: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def slug_problem(name: object, what: str) -> str | None:
    """Return why `name` is not a lowercase DNS label, or None when it is one."""
    if not isinstance(name, str):
        return f"{what} must be a string, not {type(name).__name__}"
    if not name:
        return f"{what} is empty: use lowercase letters, digits and '-', e.g. \"backup\""
    if len(name) > MAX_NAME_LENGTH:
        return (
            f'{what} "{name[:20]}…" is {len(name)} characters long: '
            f"shorten it to at most {MAX_NAME_LENGTH}"
        )
    if NAME_PATTERN.fullmatch(name):
        return None
    suggestion = suggest_slug(name)
    fix = f': use "{suggestion}"' if suggestion else ""
    return (
        f'{what} "{name}" may only hold lowercase letters, digits and "-", '
        f"and must start and end with a letter or digit{fix}"
    )


def suggest_slug(name: str) -> str:
    """Return the nearest valid slug to `name` ("" when nothing usable is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:MAX_NAME_LENGTH].rstrip("-")


def namespace_problem(name: str) -> str | None:
    """Return why `name` cannot hold jobs, or None when it is a usable namespace name."""
    problem = slug_problem(name, "namespace")
    if problem is not None:
        return problem
    if name in RESERVED_NAMESPACES:
        return f'namespace "{name}" is reserved for Crontopus itself: choose another name'
    return None


def validate_namespace(name: str) -> str:
    """Return `name` when it is a usable namespace name; raise NamespaceError otherwise."""
    problem = namespace_problem(name)
    if problem is not None:
        raise NamespaceError(problem)
    return name


def is_protected_namespace(name: str) -> bool:
    """Tell whether the namespace always exists and cannot be deleted."""
    return name in PROTECTED_NAMESPACES
