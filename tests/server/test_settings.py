"""Settings come from the environment once, with clear failures naming the variable."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from crontopus.server.errors import ConfigurationError
from crontopus.server.settings import GitStoreKind, Rate, Settings


def test_defaults_need_no_configuration_and_persist_a_private_secret_key(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'crontopus.db'}"
    assert settings.allow_signup is True
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    assert again.secret_key == settings.secret_key


def test_a_plain_postgresql_url_gets_the_async_driver(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path),
            "CRONTOPUS_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def test_the_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("k" * 40 + "\n")
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_SECRET_KEY_FILE": str(secret)}
    )
    assert settings.secret_key == "k" * 40


def test_the_database_url_can_come_from_a_file_as_a_container_secret(tmp_path: Path) -> None:
    url = tmp_path / "database_url"
    url.write_text("postgresql://crontopus:s3cret@db:5432/crontopus\n")
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_DATABASE_URL_FILE": str(url)}
    )
    assert settings.database_url == "postgresql+asyncpg://crontopus:s3cret@db:5432/crontopus"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CRONTOPUS_ALLOW_SIGNUP", "maybe", "CRONTOPUS_ALLOW_SIGNUP: 'maybe' is not a boolean"),
        ("CRONTOPUS_DATABASE_URL", "mysql://x/y", "CRONTOPUS_DATABASE_URL: unsupported"),
        ("CRONTOPUS_MAX_PAGE_SIZE", "0", "CRONTOPUS_MAX_PAGE_SIZE: 0 is out of range"),
        ("CRONTOPUS_ACCESS_TOKEN_TTL", "soon", "CRONTOPUS_ACCESS_TOKEN_TTL: 'soon' is not"),
        ("CRONTOPUS_SECRET_KEY", "short", "CRONTOPUS_SECRET_KEY: must be at least 32"),
        ("CRONTOPUS_CORS_ORIGINS", "example.com/app", "CRONTOPUS_CORS_ORIGINS: 'example.com/app'"),
        ("CRONTOPUS_DATABASE_TIMEOUT", "0", "CRONTOPUS_DATABASE_TIMEOUT: 0 is out of range"),
        ("CRONTOPUS_INGEST_QUEUE_LIMIT", "10", "CRONTOPUS_INGEST_QUEUE_LIMIT: 10 is out of range"),
    ],
)
def test_a_bad_value_fails_naming_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), variable: value})


def test_signup_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_ALLOW_SIGNUP": "false"}
    )
    assert settings.allow_signup is False


def test_alerting_and_observability_settings_are_read_and_checked(tmp_path: Path) -> None:
    from crontopus.server.settings import LogFormat

    token = tmp_path / "metrics-token"
    token.write_text("scrape-secret\n")
    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path),
            "CRONTOPUS_ALERT_INTERVAL": "5",
            "CRONTOPUS_IN_PROCESS_WORKER": "false",
            "CRONTOPUS_NOTIFICATION_ATTEMPTS": "3",
            "CRONTOPUS_NOTIFICATION_BACKOFF": "10",
            "CRONTOPUS_METRICS_TOKEN_FILE": str(token),
            "CRONTOPUS_LOG_FORMAT": "JSON",
        }
    )
    assert (settings.alert_interval, settings.in_process_worker) == (5, False)
    assert (settings.notification_attempts, settings.notification_backoff) == (3, 10)
    assert settings.metrics_token == "scrape-secret"
    assert "scrape-secret" not in repr(settings)
    assert settings.log_format is LogFormat.JSON
    with pytest.raises(ConfigurationError, match="CRONTOPUS_LOG_FORMAT: 'xml'"):
        Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigurationError, match="CRONTOPUS_ALERT_INTERVAL"):
        Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_ALERT_INTERVAL": "0"})


def test_websocket_compression_is_off_unless_turned_on(tmp_path: Path) -> None:
    assert Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)}).websocket_compression is False
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_WEBSOCKET_COMPRESSION": "true"}
    )
    assert settings.websocket_compression is True


def test_the_check_in_window_and_duration_bound_are_read_and_checked(tmp_path: Path) -> None:
    defaults = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)}).checkin_limits
    assert (defaults.max_age, defaults.max_ahead) == (timedelta(days=90), timedelta(minutes=10))
    assert defaults.max_duration.total_seconds() * 1000 <= 2**31 - 1
    limits = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path),
            "CRONTOPUS_CHECKIN_MAX_AGE_DAYS": "7",
            "CRONTOPUS_CHECKIN_MAX_AHEAD": "30",
            "CRONTOPUS_CHECKIN_MAX_DURATION": "3600",
        }
    ).checkin_limits
    assert limits.max_age == timedelta(days=7)
    assert limits.max_ahead == timedelta(seconds=30)
    assert limits.max_duration == timedelta(hours=1)
    with pytest.raises(ConfigurationError, match="CRONTOPUS_CHECKIN_MAX_DURATION: 3000000 is out"):
        Settings.from_env(
            {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_CHECKIN_MAX_DURATION": "3000000"}
        )


def test_rate_limits_read_count_per_period_and_off(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path),
            "CRONTOPUS_RATE_LIMIT_REGISTER": "5/hour",
            "CRONTOPUS_RATE_LIMIT_LOGIN": "10/15m",
            "CRONTOPUS_RATE_LIMIT_CHECKINS": "off",
        }
    )
    assert settings.rate_limits.register == Rate(5, 3600)
    assert settings.rate_limits.login == Rate(10, 900)
    assert settings.rate_limits.checkins is None
    assert settings.rate_limits.mutations == Rate(600, 60)
    # Sixty sign-ups in a row from one address no longer all succeed by default.
    assert Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)}).rate_limits.register == Rate(
        10, 3600
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CRONTOPUS_RATE_LIMIT_REGISTER", "lots", "'lots' is not a rate (write count/period"),
        ("CRONTOPUS_RATE_LIMIT_ENROLL", "0/minute", "must allow at least 1 per period"),
        ("CRONTOPUS_RATE_LIMIT_STORE", "redis", "'redis' is not a rate-limit store"),
        ("CRONTOPUS_RATE_LIMIT_STORE", "postgres", "postgres needs CRONTOPUS_DATABASE_URL"),
        ("CRONTOPUS_QUOTA_JOBS", "-1", "-1 is out of range (must be at least 0)"),
        ("CRONTOPUS_QUOTA_CHANNELS", "many", "'many' is not a whole number"),
    ],
)
def test_a_bad_rate_limit_or_quota_fails_naming_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{variable}: .*{re.escape(message)}"):
        Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), variable: value})


def test_the_smtp_url_can_come_from_a_file_with_the_from_address_and_verification(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "smtp_url"
    secret.write_text("smtps://ops%40example.com:s3cret@mail.example.com\n")
    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path),
            "CRONTOPUS_SMTP_URL_FILE": str(secret),
            "CRONTOPUS_MAIL_FROM": "Crontopus <crontopus@example.com>",
            "CRONTOPUS_PUBLIC_URL": "https://crontopus.example.com",
            "CRONTOPUS_EMAIL_VERIFICATION": "required",
        }
    )
    assert settings.mail.smtp is not None
    assert (settings.mail.smtp.host, settings.mail.smtp.port) == ("mail.example.com", 465)
    assert settings.mail.smtp.username == "ops@example.com"
    assert "s3cret" not in repr(settings)
    assert settings.mail.sender == "Crontopus <crontopus@example.com>"
    assert settings.mail.verification.value == "required"


def test_without_smtp_no_mail_is_sent_and_verification_is_off_in_effect(tmp_path: Path) -> None:
    settings = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    assert (settings.mail.enabled, settings.mail.verifies) == (False, False)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"CRONTOPUS_SMTP_URL": "smtps://mail.example.com"}, "which need CRONTOPUS_PUBLIC_URL"),
        ({"CRONTOPUS_SMTP_URL": "imap://mail.example.com"}, "CRONTOPUS_SMTP_URL: imap scheme"),
        ({"CRONTOPUS_EMAIL_VERIFICATION": "required"}, "required needs CRONTOPUS_SMTP_URL"),
        ({"CRONTOPUS_EMAIL_VERIFICATION": "maybe"}, "use required, optional or off"),
        ({"CRONTOPUS_MAIL_FROM": "crontopus"}, "CRONTOPUS_MAIL_FROM: 'crontopus' is not"),
    ],
)
def test_a_bad_mail_setting_is_refused_with_the_fix(
    tmp_path: Path, env: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path), **env})


def oidc_env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "CRONTOPUS_DATA_DIR": str(tmp_path),
        "CRONTOPUS_OIDC_PROVIDERS": "corp, google",
        "CRONTOPUS_OIDC_CORP_ISSUER": "https://id.example.com/realms/ops/",
        "CRONTOPUS_OIDC_CORP_CLIENT_ID": "crontopus",
        "CRONTOPUS_OIDC_CORP_CLIENT_SECRET": "corp-secret",
        "CRONTOPUS_OIDC_CORP_LABEL": "Example Corp",
        "CRONTOPUS_OIDC_GOOGLE_ISSUER": "https://accounts.google.com",
        "CRONTOPUS_OIDC_GOOGLE_CLIENT_ID": "123.apps",
        **values,
    }


def test_single_sign_on_providers_are_read_in_order_with_secrets_from_files(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "google-secret"
    secret.write_text("google-secret\n")
    settings = Settings.from_env(
        oidc_env(tmp_path, CRONTOPUS_OIDC_GOOGLE_CLIENT_SECRET_FILE=str(secret))
    )
    corp, google = settings.oidc_providers
    assert (corp.name, corp.issuer, corp.label) == (
        "corp",
        "https://id.example.com/realms/ops",
        "Example Corp",
    )
    assert corp.discovery_url == (
        "https://id.example.com/realms/ops/.well-known/openid-configuration"
    )
    assert (google.label, google.client_secret, google.scopes) == (
        "Google",
        "google-secret",
        ("openid", "email", "profile"),
    )
    assert "secret" not in repr(settings.oidc_providers)
    assert settings.oidc_provider("google") is google
    assert Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)}).oidc_providers == ()


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({}, "CRONTOPUS_OIDC_GOOGLE_CLIENT_SECRET: must be set"),
        ({"CRONTOPUS_OIDC_PROVIDERS": "Corp-1"}, "CRONTOPUS_OIDC_PROVIDERS: 'corp-1'"),
        ({"CRONTOPUS_OIDC_PROVIDERS": "corp,corp"}, "'corp' is named twice"),
        (
            {"CRONTOPUS_OIDC_CORP_ISSUER": "http://id.example.com"},
            "CRONTOPUS_OIDC_CORP_ISSUER: 'http://id.example.com' must use https",
        ),
        (
            {"CRONTOPUS_OIDC_CORP_SCOPES": "email profile"},
            "CRONTOPUS_OIDC_CORP_SCOPES: must include openid",
        ),
    ],
)
def test_a_bad_single_sign_on_setting_fails_naming_the_variable(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        Settings.from_env(oidc_env(tmp_path, **values))


def test_a_provider_on_this_machine_may_use_plain_http(tmp_path: Path) -> None:
    env = oidc_env(
        tmp_path,
        CRONTOPUS_OIDC_PROVIDERS="corp",
        CRONTOPUS_OIDC_CORP_ISSUER="http://127.0.0.1:9000",
    )
    assert Settings.from_env(env).oidc_providers[0].issuer == "http://127.0.0.1:9000"


def external_git(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "CRONTOPUS_DATA_DIR": str(tmp_path),
        "CRONTOPUS_GIT_STORE": "external",
        "CRONTOPUS_GIT_EXTERNAL_URL": "https://forge.example/ops/{tenant}.git",
        "CRONTOPUS_GIT_EXTERNAL_TOKEN": "forge-token",
        **values,
    }


def test_the_managed_git_store_is_the_default(tmp_path: Path) -> None:
    git = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)}).git
    assert git.store is GitStoreKind.MANAGED
    assert git.external_url is None


def test_the_external_git_store_reads_its_forge_token_from_a_file_and_hides_secrets(
    tmp_path: Path,
) -> None:
    token = tmp_path / "token"
    token.write_text("from-a-file\n")
    env = external_git(
        tmp_path,
        CRONTOPUS_GIT_EXTERNAL_TOKEN="",
        CRONTOPUS_GIT_EXTERNAL_TOKEN_FILE=str(token),
        CRONTOPUS_GIT_EXTERNAL_USERNAME="bot",
        CRONTOPUS_GIT_FETCH_INTERVAL="15",
        CRONTOPUS_GIT_WEBHOOK_SECRET="s" * 20,
    )
    git = Settings.from_env(env).git
    assert git.store is GitStoreKind.EXTERNAL
    assert (git.external_username, git.external_token) == ("bot", "from-a-file")
    assert git.fetch_interval == 15
    assert git.webhook_secret == "s" * 20
    assert "from-a-file" not in repr(git)
    assert "s" * 20 not in repr(git)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"CRONTOPUS_GIT_STORE": "gitlab"}, "CRONTOPUS_GIT_STORE: 'gitlab' is not a Git store"),
        ({"CRONTOPUS_GIT_EXTERNAL_URL": ""}, "CRONTOPUS_GIT_EXTERNAL_URL: must be set"),
        (
            {"CRONTOPUS_GIT_EXTERNAL_URL": "https://forge.example/ops/jobs.git"},
            "must hold {tenant} once",
        ),
        (
            {"CRONTOPUS_GIT_EXTERNAL_URL": "https://{tenant}.forge.example/jobs.git"},
            "must hold {tenant} in its path",
        ),
        (
            {"CRONTOPUS_GIT_EXTERNAL_URL": "https://bot:pw@forge.example/{tenant}.git"},
            "must not carry credentials",
        ),
        (
            {"CRONTOPUS_GIT_EXTERNAL_URL": "http://forge.example/{tenant}.git"},
            "must use https",
        ),
        (
            {"CRONTOPUS_GIT_EXTERNAL_URL": "ssh://git@forge.example/{tenant}.git"},
            "SSH remotes are not supported",
        ),
        ({"CRONTOPUS_GIT_EXTERNAL_TOKEN": ""}, "CRONTOPUS_GIT_EXTERNAL_TOKEN: must be set"),
        ({"CRONTOPUS_GIT_WEBHOOK_SECRET": "short"}, "at least 16 characters"),
        ({"CRONTOPUS_GIT_FETCH_INTERVAL": "0"}, "CRONTOPUS_GIT_FETCH_INTERVAL: 0 is out of range"),
        (
            {"CRONTOPUS_GIT_STORE": "managed"},
            "CRONTOPUS_GIT_EXTERNAL_URL: only used with CRONTOPUS_GIT_STORE=external",
        ),
    ],
)
def test_a_bad_git_store_setting_fails_naming_the_variable(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Settings.from_env(external_git(tmp_path, **values))


def test_a_forge_on_this_machine_may_use_plain_http(tmp_path: Path) -> None:
    url = "http://127.0.0.1:3000/ops/{tenant}.git"
    git = Settings.from_env(external_git(tmp_path, CRONTOPUS_GIT_EXTERNAL_URL=url)).git
    assert git.external_url == url
