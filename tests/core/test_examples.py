"""Every example manifest in the docs is valid, lives at its canonical path, and round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from crontopus.core.manifest import dump_manifest, parse_manifest, path_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "job-manifests"
FILES = sorted(EXAMPLES.glob("*/*.yaml"))


def test_there_are_examples_for_several_namespaces() -> None:
    assert len({path.parent.name for path in FILES}) >= 4


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_each_example_is_a_valid_manifest(path: Path) -> None:
    relative = f"{path.parent.name}/{path.name}"
    job = parse_manifest(path.read_bytes(), relative, namespace=path.parent.name)
    assert path_problems(relative, job) == []
    assert parse_manifest(dump_manifest(job)) == job


def test_the_examples_have_distinct_ids() -> None:
    ids = [parse_manifest(path.read_text()).id for path in FILES]
    assert len(set(ids)) == len(ids)
