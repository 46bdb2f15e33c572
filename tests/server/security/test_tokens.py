"""Opaque tokens carry a kind prefix and a checksum that catches typos offline."""

from __future__ import annotations

import pytest

from crontopus.server.security.tokens import TokenKind, digest, issue_token, token_kind


@pytest.mark.parametrize("kind", list(TokenKind))
def test_a_minted_token_is_recognised_by_its_prefix(kind: TokenKind) -> None:
    token = issue_token(kind)
    assert token.plaintext.startswith(f"{kind.value}_")
    assert token_kind(token.plaintext) is kind
    assert token.digest == digest(token.plaintext)
    assert token.plaintext not in token.digest


def test_every_single_character_typo_is_caught_by_the_checksum() -> None:
    token = issue_token(TokenKind.API).plaintext
    prefix_length = len("ctp_")
    for position in range(prefix_length, len(token)):
        replacement = "a" if token[position] != "a" else "b"
        typo = token[:position] + replacement + token[position + 1 :]
        assert token_kind(typo) is None, position


@pytest.mark.parametrize(
    "text", ["", "ctp_", "ctp_short", "xyz_" + "a" * 36, "ctp_" + "!" * 36, "not a token"]
)
def test_malformed_tokens_are_rejected(text: str) -> None:
    assert token_kind(text) is None


def test_tokens_are_unique() -> None:
    assert len({issue_token(TokenKind.ENDPOINT).plaintext for _ in range(1000)}) == 1000
