"""`tokens list|create|revoke`: personal API tokens, shown once."""

from __future__ import annotations

from tests.clients.conftest import Cli, Server

TOKEN_KEYS = {"id", "name", "hint", "scopes", "createdAt", "expiresAt", "lastUsedAt", "revokedAt"}


def test_a_token_is_shown_once_listed_by_hint_and_revoked(logged_in: Cli, server: Server) -> None:
    created = logged_in("tokens", "create", "ci", "--scope", "read", "--scope", "write",
                        "--expires-in-days", "7", "--json")  # fmt: skip
    assert created.code == 0, created.err
    payload = created.json()
    assert set(payload) == {"plaintext", "token"}
    assert set(payload["token"]) == TOKEN_KEYS
    assert payload["token"]["scopes"] == ["READ", "WRITE"]
    secret = payload["plaintext"]
    listed = logged_in("tokens", "list", "--json").json()
    assert [(t["name"], t["hint"]) for t in listed] == [("ci", secret[-4:])]
    assert secret not in logged_in("tokens", "list").out
    env = {"CRONTOPUS_TOKEN": secret, "CRONTOPUS_SERVER": server.url}
    assert logged_in("namespaces", "list", env=env).code == 0
    revoked = logged_in("tokens", "revoke", payload["token"]["id"])
    assert revoked.code == 0, revoked.err
    assert "Revoked API token ci" in revoked.err
    refused = logged_in("namespaces", "list", env=env)
    assert refused.code == 4
    assert "revoked" in refused.err


def test_a_read_token_cannot_write(logged_in: Cli, server: Server) -> None:
    secret = logged_in("tokens", "create", "reader").out.strip()
    env = {"CRONTOPUS_TOKEN": secret, "CRONTOPUS_SERVER": server.url}
    result = logged_in("namespaces", "create", "nope", env=env)
    assert result.code == 4
    assert result.err.startswith("crontopus: error: ")


def test_revoke_wants_the_id_not_the_secret(logged_in: Cli) -> None:
    result = logged_in("tokens", "revoke", "ctp_secret")
    assert result.code == 2
    assert "is not a token id" in result.err


def test_the_state_column_speaks_one_casing_for_live_and_revoked_tokens(logged_in: Cli) -> None:
    logged_in("tokens", "create", "kept")
    doomed = logged_in("tokens", "create", "doomed", "--json").json()["token"]["id"]
    assert logged_in("tokens", "revoke", doomed).code == 0
    rows = [line.split() for line in logged_in("tokens", "list").out.splitlines()[1:]]
    states = {row[1]: row[-1] for row in rows}
    assert states == {"kept": "active", "doomed": "revoked"}
