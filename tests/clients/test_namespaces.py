"""`namespaces list|create|delete` against a real server."""

from __future__ import annotations

from tests.clients.conftest import Cli


def test_namespaces_are_created_listed_and_deleted(logged_in: Cli) -> None:
    created = logged_in("namespaces", "create", "backup", "--json")
    assert created.code == 0, created.err
    assert created.json() == {"name": "backup", "jobCount": 0, "isSystem": False}
    listed = logged_in("namespaces", "list", "--json").json()
    assert [n["name"] for n in listed] == ["backup", "default", "discovered"]
    assert logged_in("namespaces", "delete", "backup").code == 0
    assert [n["name"] for n in logged_in("namespaces", "list", "--json").json()] == [
        "default",
        "discovered",
    ]


def test_the_servers_refusal_names_the_field(logged_in: Cli) -> None:
    result = logged_in("namespaces", "delete", "default")
    assert (result.code, result.err) == (
        1,
        'crontopus: error: name: "default" always exists and cannot be deleted\n',
    )
    bad = logged_in("namespaces", "create", "Not_Valid")
    assert bad.code == 1
    assert bad.err.startswith("crontopus: error: ")
