"""Secret references in manifests: names of values kept in the server's secret store, not in Git.

A manifest says `env: [{name: DB_PASSWORD, secretRef: db-password}]` (or, in the mapping form,
`DB_PASSWORD: {secretRef: db-password}`); the agent asks the server for the value when the job
runs. The validator warns when a variable whose name looks like a secret carries its value in
the manifest, since Git keeps it in every clone and every diff.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Final

from crontopus.core.problems import Problem, join_path

if TYPE_CHECKING:
    from crontopus.core.job import JobManifest

#: A secret's name: letters, digits, ".", "_" and "-", starting with a letter or digit.
MAX_SECRET_NAME_LENGTH: Final = 63
#: The largest value the store keeps (bytes of UTF-8): a key file or a certificate fits.
MAX_SECRET_VALUE_BYTES: Final = 64 * 1024
SECRET_NAME_RULE: Final = (
    f'1-{MAX_SECRET_NAME_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit'
)
_SECRET_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SECRET_WORDS: Final = ("PASSWORD", "TOKEN", "SECRET")


def secret_name_problem(name: str) -> str | None:
    """Say what is wrong with a secret's name (None when it is a valid name)."""
    if not name:
        return f"is empty: a secret's name is {SECRET_NAME_RULE}"
    if len(name) > MAX_SECRET_NAME_LENGTH or not _SECRET_NAME.fullmatch(name):
        shown = name if len(name) <= 60 else name[:60] + "…"
        return f'"{shown}" is not a secret name: use {SECRET_NAME_RULE}'
    return None


def looks_secret(variable: str) -> bool:
    """Tell whether an environment variable's name suggests its value is a secret."""
    upper = variable.upper()
    return any(word in upper for word in _SECRET_WORDS) or upper.endswith("_KEY")


def manifest_warnings(
    manifest: JobManifest, file: str | None = None, known: Collection[str] | None = None
) -> list[Problem]:
    """Return what is allowed but likely wrong about a valid manifest's secrets.

    - a variable named like a secret (`*PASSWORD*`, `*TOKEN*`, `*SECRET*`, `*_KEY`) with a
      literal, non-empty value in the manifest;
    - with `known` (the tenant's secret names), a `secretRef` to a secret that does not exist:
      a warning, not an error, because a job may be pushed before its secret is set; a run
      that finds the secret still missing fails and says which one.
    """
    warnings = [
        Problem(
            file,
            join_path("spec.env", name),
            "looks like a secret but its value is written in the manifest, where Git keeps it "
            f"in every clone and diff: store it with `crontopus secrets set {_suggest(name)}` "
            f"and write {{name: {name}, secretRef: {_suggest(name)}}} instead",
        )
        for name, value in sorted(manifest.env.items())
        if value and looks_secret(name)
    ]
    if known is not None:
        warnings.extend(
            Problem(
                file,
                join_path("spec.env", name),
                f'secret "{secret}" does not exist: set it (`crontopus secrets set {secret}`) '
                "before the job runs, or its runs fail",
            )
            for name, secret in sorted(manifest.secret_env.items())
            if secret not in known
        )
    return warnings


def _suggest(variable: str) -> str:
    """A secret name for a variable: DB_PASSWORD -> db-password."""
    return variable.lower().replace("_", "-").strip("-") or "secret"
