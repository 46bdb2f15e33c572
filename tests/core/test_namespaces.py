"""Namespace names: Kubernetes-style, with two that always exist and one reserved."""

from __future__ import annotations

import pytest

from crontopus.core.errors import CrontopusError, NamespaceError
from crontopus.core.namespaces import (
    DEFAULT_NAMESPACE,
    DISCOVERED_NAMESPACE,
    PROTECTED_NAMESPACES,
    RESERVED_NAMESPACES,
    SYSTEM_NAMESPACE,
    is_protected_namespace,
    namespace_problem,
    validate_namespace,
)


def test_default_and_discovered_are_protected_and_system_is_reserved() -> None:
    assert frozenset({"default", "discovered"}) == PROTECTED_NAMESPACES
    assert frozenset({"system"}) == RESERVED_NAMESPACES
    assert (DEFAULT_NAMESPACE, DISCOVERED_NAMESPACE, SYSTEM_NAMESPACE) == (
        "default",
        "discovered",
        "system",
    )
    assert is_protected_namespace("default")
    assert not is_protected_namespace("backup")


@pytest.mark.parametrize("name", ["default", "discovered", "backup", "a", "team-42", "9", "a" * 63])
def test_it_accepts_kubernetes_namespace_names(name: str) -> None:
    assert namespace_problem(name) is None
    assert validate_namespace(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("system", 'namespace "system" is reserved for Crontopus itself: choose another name'),
        (
            "Backup Jobs",
            'namespace "Backup Jobs" may only hold lowercase letters, digits and "-", and must '
            'start and end with a letter or digit: use "backup-jobs"',
        ),
        ("-x", 'use "x"'),
        ("x-", 'use "x"'),
        ("a.b", 'use "a-b"'),
        ("../etc", 'use "etc"'),
        ("a/b", 'use "a-b"'),
        (
            "a" * 64,
            'namespace "aaaaaaaaaaaaaaaaaaaa…" is 64 characters long: shorten it to at most 63',
        ),
        ("", "namespace is empty: use lowercase letters, digits and '-', e.g. \"backup\""),
        (
            "!!!",
            'namespace "!!!" may only hold lowercase letters, digits and "-", and must '
            "start and end with a letter or digit",
        ),
    ],
)
def test_it_refuses_names_with_the_reason_and_a_fix(name: str, message: str) -> None:
    problem = namespace_problem(name)
    assert problem is not None
    assert message in problem
    with pytest.raises(NamespaceError) as caught:
        validate_namespace(name)
    assert str(caught.value) == problem
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CrontopusError)


def test_a_name_without_usable_characters_gets_no_suggestion() -> None:
    problem = namespace_problem("!!!")
    assert problem is not None
    assert "use" not in problem.rsplit(",", 1)[-1]
