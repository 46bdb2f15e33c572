"""Check a push before it lands: the rules a `git push` to a managed repository must pass.

- Only the default branch (`main`) is accepted; other branches and tags are
  refused (agents and the server read `main` only, so anything else would be
  invisible), and `main` can be neither deleted nor rewound (no force-push).
- Every added or changed file fits the layout: `<namespace>/<name>.yaml`,
  `<namespace>/.keep`, or `README.md` at the root; namespaces are legal names,
  regular files only (no symlinks or submodules).
- Every added or changed manifest passes the core validator, and its file name
  matches `metadata.name`.
- Ids are unique across the tree and immutable: a file keeps its id; a job may
  move to another file (rename or namespace move) carrying its id along.
- `default/` and `discovered/` keep existing.
- The tenant's jobs quota holds: a push may not take the number of jobs outside
  `discovered/` past it (one that keeps or lowers an over-quota count passes).
- Discovered jobs are not hand-edited: files under `discovered/` cannot be
  added or changed, and one may leave only by adoption — its id reappears in
  another namespace in the same push, without `labels.source: discovered`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

import pygit2

from crontopus.core.manifest import JobManifest, Problem
from crontopus.core.namespaces import DISCOVERED_NAMESPACE, PROTECTED_NAMESPACES
from crontopus.core.secrets import manifest_warnings

from .layout import BRANCH, BRANCH_REF, PathKind, classify, keep_path
from .repository import commit_at
from .snapshot import Parsed, duplicate_problem, name_problem, parse_blob, quick_id

ZERO_ID = "0" * 40
_FILE_MODES = {pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE}


@dataclass(frozen=True)
class _File:
    blob_id: str
    mode: int


#: The environment variable carrying the jobs quota from the server to the hook process.
JOB_QUOTA_VARIABLE = "CRONTOPUS_QUOTA_JOBS"


def validate_ref_update(
    repo: pygit2.Repository, refname: str, old: str, new: str, max_jobs: int | None = None
) -> list[Problem]:
    """Check one ref update of a push (`old`/`new` as git passes them, zeros for none)."""
    if refname != BRANCH_REF:
        return [
            Problem(
                refname,
                "",
                f"only the {BRANCH} branch holds jobs: push to it (git push origin HEAD:{BRANCH})",
            )
        ]
    if new == ZERO_ID:
        return [Problem(refname, "", f"the {BRANCH} branch cannot be deleted")]
    if old != ZERO_ID and old != new and not repo.descendant_of(new, old):
        return [
            Problem(
                refname,
                "",
                "history cannot be rewritten (non-fast-forward push): "
                f"run git pull --rebase origin {BRANCH} and push again",
            )
        ]
    return validate_push(repo, None if old == ZERO_ID else old, new, max_jobs)


def validate_push(
    repo: pygit2.Repository,
    old_commit: str | None,
    new_commit: str,
    max_jobs: int | None = None,
    *,
    hand_edits: bool = True,
) -> list[Problem]:
    """Return every problem the move from `old_commit` to `new_commit` would bring.

    `hand_edits=False` judges a tip fetched from an external remote (`validate_remote_tip`):
    the rules about how history may change (ids are immutable, `discovered/` changes only by
    adoption) are left out, since that remote's history also holds the commits of other
    Crontopus servers, which write `discovered/` themselves.
    """
    old_files = _files(repo, old_commit)
    new_files = _files(repo, new_commit)
    changed = sorted(p for p, f in new_files.items() if old_files.get(p) != f)
    problems: list[Problem] = []
    for path in changed:
        problems.extend(_layout_problems(path, new_files[path]))
    problems.extend(_missing_namespaces(new_files))
    problems.extend(_quota_problems(old_files, new_files, max_jobs))
    parsed = {
        path: parse_blob(path, _data(repo, new_files[path].blob_id))
        for path in changed
        if classify(path).kind is PathKind.MANIFEST
    }
    ids = _ids(repo, new_files, parsed)
    for path, result in parsed.items():
        problems.extend(result.problems)
        if result.manifest is not None:
            problems.extend(
                _manifest_problems(repo, path, result.manifest, old_files, ids, parsed, hand_edits)
            )
    if not hand_edits:
        return problems
    for path in sorted(set(old_files) - set(new_files)):
        if classify(path).kind is PathKind.MANIFEST and path.startswith(f"{DISCOVERED_NAMESPACE}/"):
            job_id = quick_id(_text(repo, old_files[path].blob_id))
            problems.extend(_adoption_problems(path, job_id, ids, parsed))
    return problems


def validate_remote_tip(
    repo: pygit2.Repository, adopted: str | None, tip: str, max_jobs: int | None = None
) -> list[Problem]:
    """Judge a tip fetched from an external remote before the mirror serves it.

    The same validator as a push to a managed repository, for what the tip brings since the
    commit the mirror serves (`adopted`; None judges every file): layout, manifests, unique
    ids, `default/` and `discovered/`, and the jobs quota. Files that did not change were
    judged when they were adopted.
    """
    return validate_push(repo, adopted, tip, max_jobs, hand_edits=False)


def push_warnings(
    repo: pygit2.Repository, old_commit: str | None, new_commit: str
) -> list[Problem]:
    """Return what a valid push carries that is allowed but likely wrong (secrets in Git)."""
    old_files = _files(repo, old_commit)
    warnings: list[Problem] = []
    for path, file in sorted(_files(repo, new_commit).items()):
        if old_files.get(path) == file or classify(path).kind is not PathKind.MANIFEST:
            continue
        manifest = parse_blob(path, _data(repo, file.blob_id)).manifest
        if manifest is not None:
            warnings.extend(manifest_warnings(manifest, path))
    return warnings


def _job_count(files: dict[str, _File]) -> int:
    return sum(
        1
        for path in files
        if classify(path).kind is PathKind.MANIFEST
        and not path.startswith(f"{DISCOVERED_NAMESPACE}/")
    )


def _quota_problems(
    old_files: dict[str, _File], new_files: dict[str, _File], max_jobs: int | None
) -> list[Problem]:
    jobs = _job_count(new_files)
    if max_jobs is None or jobs <= max_jobs or jobs <= _job_count(old_files):
        return []
    return [
        Problem(
            None,
            "",
            f"quota reached: this push leaves {jobs} jobs and the tenant may hold at most "
            f"{max_jobs} (set by {JOB_QUOTA_VARIABLE}); delete jobs you no longer need, or ask "
            "the operator to raise the quota",
        )
    ]


def _missing_namespaces(files: dict[str, _File]) -> list[Problem]:
    return [
        Problem(
            f"{namespace}/",
            "",
            f"namespace {namespace!r} always exists: keep {keep_path(namespace)}",
        )
        for namespace in sorted(PROTECTED_NAMESPACES)
        if not any(p.startswith(f"{namespace}/") for p in files)
    ]


def _ids(
    repo: pygit2.Repository, files: dict[str, _File], parsed: dict[str, Parsed]
) -> dict[uuid.UUID, list[str]]:
    """Map every job id of the new tree to the manifests carrying it."""
    ids: dict[uuid.UUID, list[str]] = defaultdict(list)
    for path, file in files.items():
        if classify(path).kind is not PathKind.MANIFEST:
            continue
        if path in parsed:
            manifest = parsed[path].manifest
            job_id = manifest.id if manifest is not None else None
        else:
            # Unchanged files were checked when they came in: their id is enough.
            job_id = quick_id(_text(repo, file.blob_id))
        if job_id is not None:
            ids[job_id].append(path)
    return ids


def _manifest_problems(
    repo: pygit2.Repository,
    path: str,
    manifest: JobManifest,
    old_files: dict[str, _File],
    ids: dict[uuid.UUID, list[str]],
    parsed: dict[str, Parsed],
    hand_edits: bool = True,
) -> list[Problem]:
    """Check what the core validator cannot see: the file name, id rules, discovered/."""
    problems: list[Problem] = []
    mismatch = name_problem(path, manifest)
    if mismatch is not None:
        problems.append(mismatch)
    for other in ids[manifest.id]:
        # Blame the later of two new files, or the new file next to an old one.
        if other != path and (other < path or other not in parsed):
            problems.append(duplicate_problem(path, manifest.id, other))
            break
    if not hand_edits:
        return problems
    if path in old_files:
        before = quick_id(_text(repo, old_files[path].blob_id))
        if before is not None and before != manifest.id:
            problems.append(
                Problem(
                    path,
                    "metadata.id",
                    f"changed from {before} to {manifest.id}: ids are immutable; "
                    "to make a new job, add a new file with a fresh id",
                )
            )
    problems.extend(_discovered_problems(path, manifest.namespace))
    return problems


def _files(repo: pygit2.Repository, commit_id: str | None) -> dict[str, _File]:
    if commit_id is None:
        return {}
    commit = commit_at(repo, commit_id)
    if commit is None:
        return {}
    found: dict[str, _File] = {}

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            path = f"{prefix}{entry.name}"
            if isinstance(entry, pygit2.Tree):
                walk(entry, f"{path}/")
            else:
                found[path] = _File(str(entry.id), entry.filemode)

    walk(commit.tree, "")
    return found


def _data(repo: pygit2.Repository, blob_id: str) -> bytes:
    blob = repo.get(blob_id)
    return blob.data if isinstance(blob, pygit2.Blob) else b""


def _text(repo: pygit2.Repository, blob_id: str) -> str:
    return _data(repo, blob_id).decode("utf-8", errors="replace")


def _layout_problems(path: str, file: _File) -> list[Problem]:
    info = classify(path)
    if info.kind is PathKind.ILLEGAL:
        return [Problem(path, "", info.reason or "not allowed in a job repository")]
    if file.mode not in _FILE_MODES:
        return [Problem(path, "", "only regular files are allowed (no symlinks or submodules)")]
    return []


def _discovered_problems(path: str, namespace: str) -> list[Problem]:
    # The core validator already insists on labels.source: discovered inside
    # discovered/ and forbids it elsewhere; what it cannot see is the edit itself.
    if namespace != DISCOVERED_NAMESPACE:
        return []
    return [
        Problem(
            path,
            "",
            "discovered jobs are read-only: adopt it instead — move the file to another "
            "namespace and drop labels.source: discovered",
        )
    ]


def _adoption_problems(
    path: str,
    job_id: uuid.UUID | None,
    ids: dict[uuid.UUID, list[str]],
    parsed: dict[str, Parsed],
) -> list[Problem]:
    adopted = job_id is not None and any(
        p in parsed and not p.startswith(f"{DISCOVERED_NAMESPACE}/") for p in ids.get(job_id, [])
    )
    if adopted:
        return []
    return [
        Problem(
            path,
            "",
            "discovered jobs cannot be deleted: adopt it by moving the file (same metadata.id) "
            "to another namespace and dropping labels.source: discovered",
        )
    ]
