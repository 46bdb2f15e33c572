"""CRONTOPUS_SMTP_URL: the three schemes, credentials in the URL, and clear refusals."""

from __future__ import annotations

import pytest

from crontopus.server.mail.smtp import SmtpServer, parse_smtp_url


def test_each_scheme_picks_its_security_and_default_port() -> None:
    assert parse_smtp_url("smtp://mail.example.com") == SmtpServer("mail.example.com", 25, "none")
    assert parse_smtp_url("smtp+starttls://mail.example.com").port == 587
    assert parse_smtp_url("smtps://mail.example.com").security == "tls"
    assert parse_smtp_url("smtps://mail.example.com").port == 465


def test_the_user_and_password_are_percent_decoded() -> None:
    server = parse_smtp_url("smtp+starttls://ops%40example.com:p%3Ass%2Fword@mail:2525")
    assert (server.username, server.password, server.port) == ("ops@example.com", "p:ss/word", 2525)
    assert "p:ss/word" not in repr(server)


def test_a_login_over_plain_smtp_is_refused_unless_the_server_is_local() -> None:
    with pytest.raises(ValueError, match="without TLS"):
        parse_smtp_url("smtp://user:pw@mail.example.com")
    assert parse_smtp_url("smtp://user:pw@127.0.0.1:1025").username == "user"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.com", "scheme"),
        ("smtp://", "no host"),
        ("smtps://mail.example.com/inbox", "no path"),
        ("smtps://mail.example.com:99999", "port"),
        ("smtps://:pw@mail.example.com", "needs a user"),
    ],
)
def test_a_malformed_url_says_what_to_write(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_smtp_url(url)
