"""Server configuration, read once from the environment into a frozen `Settings`."""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from crontopus.server.errors import ConfigurationError
from crontopus.server.mail.smtp import SmtpServer, parse_smtp_url
from crontopus.server.security.outbound import ALLOW_VARIABLE, OutboundPolicy, parse_allow_list
from crontopus.server.security.passwords import (
    DEFAULT_MIN_LENGTH,
    LOWEST_MIN_LENGTH,
    PasswordPolicy,
)
from crontopus.server.sso.config import DEFAULT_SCOPES, NAME_RE, OidcProvider

_ORIGIN = re.compile(r"^https?://[^/\s]+/?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
SECRET_KEY_FILE = "secret_key"
#: The generated key that encrypts the secret store, when CRONTOPUS_SECRETS_KEY is not set.
SECRETS_KEY_FILE = "secrets_key"
#: An endpoint counts as offline after this many heartbeat intervals without one.
MISSED_HEARTBEATS_OFFLINE = 3


class EventBus(enum.Enum):
    """What carries live events between subscribers (`CRONTOPUS_EVENT_BUS`)."""

    INPROCESS = "inprocess"
    POSTGRES = "postgres"


class LogFormat(enum.Enum):
    """How the server writes its log (`CRONTOPUS_LOG_FORMAT`)."""

    AUTO = "auto"  # human-readable on a terminal, JSON lines otherwise
    JSON = "json"
    TEXT = "text"


class GitStoreKind(enum.Enum):
    """Where tenants' job repositories live (`CRONTOPUS_GIT_STORE`)."""

    MANAGED = "managed"  # bare repositories under the data directory, served at /git
    EXTERNAL = "external"  # on a forge; each server process keeps a validated mirror


#: What stands for the tenant's slug in CRONTOPUS_GIT_EXTERNAL_URL.
TENANT_PLACEHOLDER = "{tenant}"


@dataclass(frozen=True)
class GitSettings:
    """The Git store (docs/git-store.md): managed, or external with its forge and webhook."""

    store: GitStoreKind = GitStoreKind.MANAGED
    #: The tenant repositories' URL with `{tenant}`, like https://forge.example/ops/{tenant}.git.
    external_url: str | None = None
    external_username: str = "crontopus"
    external_token: str | None = field(default=None, repr=False)
    #: Seconds between fetches of each tenant's remote (the periodic fetch and fetch-on-read).
    fetch_interval: int = 60
    #: Signs push webhooks (`POST /git-hooks/<tenant>`); None: webhooks are refused.
    webhook_secret: str | None = field(default=None, repr=False)

    @property
    def external(self) -> bool:
        return self.store is GitStoreKind.EXTERNAL


@dataclass(frozen=True)
class Limits:
    """Bounds on what one GraphQL request may ask for."""

    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_page_size: int = 100
    #: The estimated number of values one operation may return (see graphql/cost.py).
    max_cost: int = 50_000


KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class TransportLimits:
    """Bounds on what one HTTP request or WebSocket may send or hold (docs/security.md)."""

    graphql_body: int = 1 * MIB
    checkin_body: int = 128 * KIB
    #: A Git request body (a push's pack), compressed or inflated.
    git_body: int = 32 * MIB
    #: A forge's push webhook (its JSON lists the pushed commits).
    git_hook_body: int = 1 * MIB
    #: Any other request body; the other routes take none worth the name.
    other_body: int = 64 * KIB
    websocket_message: int = 1 * MIB
    websocket_init_seconds: int = 10
    subscriptions_per_socket: int = 50
    sockets_per_principal: int = 20
    git_processes: int = 8
    #: How long a Git request waits for a free process before it is answered 503.
    git_queue_seconds: int = 5


#: The longest duration a run may have: milliseconds in a GraphQL Int (2^31 - 1 ms, 24.8 days).
MAX_RUN_DURATION_SECONDS = (2**31 - 1) // 1000


@dataclass(frozen=True)
class CheckInLimits:
    """Bounds on what one check-in may report (services/checkin_validation.py applies them)."""

    #: How old a reported start or finish may be: spooled check-ins arrive late.
    max_age: timedelta = timedelta(days=90)
    #: How far ahead of the server's clock a reported time may be (clock skew).
    max_ahead: timedelta = timedelta(minutes=10)
    max_duration: timedelta = timedelta(seconds=MAX_RUN_DURATION_SECONDS)


class RateLimitStore(enum.Enum):
    """Where rate-limit buckets live (`CRONTOPUS_RATE_LIMIT_STORE`)."""

    MEMORY = "memory"  # this process only: right for one server process
    POSTGRES = "postgres"  # shared by every server process on the PostgreSQL database


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?$")


@dataclass(frozen=True)
class Rate:
    """At most `count` in any `seconds`, refilled evenly: a token bucket of `count` tokens."""

    count: int
    seconds: int

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def __str__(self) -> str:
        for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if self.seconds == length:
                return f"{self.count} per {unit}"
        return f"{self.count} per {self.seconds} seconds"


@dataclass(frozen=True)
class RateLimits:
    """How often one client may do what; None turns a limit off."""

    register: Rate | None = Rate(10, 3600)  # sign-ups per client address
    enroll: Rate | None = Rate(60, 60)  # endpoint enrollments per client address
    login: Rate | None = Rate(10, 900)  # login attempts per (account, client address)
    login_address: Rate | None = Rate(30, 60)  # login attempts per client address
    checkins: Rate | None = Rate(6000, 60)  # check-ins per tenant (HTTP and GraphQL)
    mutations: Rate | None = Rate(600, 60)  # GraphQL mutations per principal
    password_reset: Rate | None = Rate(5, 3600)  # password-reset requests per client address
    store: RateLimitStore | None = None  # None: PostgreSQL's when the database is PostgreSQL


class EmailVerification(enum.Enum):
    """Whether a new account must confirm its e-mail address (`CRONTOPUS_EMAIL_VERIFICATION`)."""

    OFF = "off"  # no verification mail
    OPTIONAL = "optional"  # a link is sent; the console shows a banner until it is followed
    REQUIRED = "required"  # no session (sign-up or login) until the link is followed


#: The From address when CRONTOPUS_MAIL_FROM is not set.
DEFAULT_MAIL_FROM = "Crontopus <crontopus@localhost>"


@dataclass(frozen=True)
class MailSettings:
    """The server's own outgoing mail (account mail, and alert channels that name no server)."""

    smtp: SmtpServer | None = None  # None: no mail is sent
    sender: str = DEFAULT_MAIL_FROM
    verification: EmailVerification = EmailVerification.OPTIONAL
    #: Seconds between attempts while the SMTP server is away, doubling up to an hour.
    retry_backoff: float = 30.0
    #: How long an undelivered mail is retried before it is dropped (its links expire anyway).
    give_up_after: timedelta = timedelta(hours=24)

    @property
    def enabled(self) -> bool:
        return self.smtp is not None

    @property
    def verifies(self) -> bool:
        """Whether new accounts get a verification link."""
        return self.enabled and self.verification is not EmailVerification.OFF


@dataclass(frozen=True)
class Quotas:
    """How much one tenant may hold."""

    jobs: int = 1000
    endpoints: int = 500
    enrollment_tokens: int = 50
    api_tokens: int = 50
    channels: int = 50
    discovered_jobs: int = 1000
    secrets: int = 500
    #: The fields a platform operator set for one tenant (services/quotas.effective_quotas).
    overridden: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know, fixed at start."""

    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    #: Keys of the secret store, newest first: the first encrypts, every one decrypts (rotation).
    #: Empty: the key generated under `data_dir` (security/secret_box.py).
    secrets_keys: tuple[str, ...] = field(default=(), repr=False)
    allow_signup: bool = True
    cors_origins: tuple[str, ...] = ()
    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 30 * 24 * 3600
    jwt_issuer: str = "crontopus"
    jwt_audience: str = "crontopus-api"
    public_url: str | None = None
    agent_wheels: Path | None = None  # None: inside the package, else the source tree's dist/
    auth_cache_seconds: float = 5.0
    event_bus: EventBus | None = None  # None: PostgreSQL's when the database is PostgreSQL
    run_retention: int = 1000
    heartbeat_interval: int = 30
    enrollment_token_days: int = 7
    alert_interval: float = 30.0
    #: Runs of jobs without a limit of their own: how long one may run (None: no such limit)
    #: and, failing that, which multiple of its recent p95 duration (0: not judged).
    default_max_duration: int | None = None
    stuck_factor: int = 3
    in_process_worker: bool = True
    notification_attempts: int = 6
    notification_backoff: float = 30.0
    notification_timeout: float = 30.0
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    metrics_token: str | None = field(default=None, repr=False)
    log_format: LogFormat = LogFormat.AUTO
    websocket_compression: bool = False
    database_timeout: float = 10.0
    ingest_queue_limit: int = 10_000
    trusted_proxies: tuple[str, ...] = ()
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    mail: MailSettings = MailSettings()
    limits: Limits = Limits()
    checkin_limits: CheckInLimits = CheckInLimits()
    rate_limits: RateLimits = RateLimits()
    quotas: Quotas = Quotas()
    transport: TransportLimits = TransportLimits()
    #: The OpenID Connect providers people may log in with, in the order the login page shows.
    oidc_providers: tuple[OidcProvider, ...] = ()
    git: GitSettings = GitSettings()

    def oidc_provider(self, name: str) -> OidcProvider | None:
        """The configured provider called `name`, or None."""
        return next((p for p in self.oidc_providers if p.name == name), None)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def offline_after(self) -> timedelta:
        """How long an endpoint may stay silent before it counts as offline."""
        return timedelta(seconds=self.heartbeat_interval * MISSED_HEARTBEATS_OFFLINE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `CRONTOPUS_*` variables; fail with a message naming the variable on bad values."""
        env = _Env(os.environ if environ is None else environ)
        data_dir = Path(env.text("CRONTOPUS_DATA_DIR") or "./data").resolve()
        database_url = normalise_database_url(
            # A URL may carry a password: it can come from a file too (container secrets).
            env.secret("CRONTOPUS_DATABASE_URL") or f"sqlite:///{data_dir / 'crontopus.db'}",
        )
        secret_key = env.secret("CRONTOPUS_SECRET_KEY") or load_or_create_secret_key(data_dir)
        if len(secret_key) < 32:
            raise ConfigurationError(
                "CRONTOPUS_SECRET_KEY: must be at least 32 characters "
                "(generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=secret_key,
            secrets_keys=secrets_keys_of(env.secret("CRONTOPUS_SECRETS_KEY")),
            allow_signup=env.boolean("CRONTOPUS_ALLOW_SIGNUP", default=True),
            cors_origins=env.origins("CRONTOPUS_CORS_ORIGINS"),
            access_token_ttl=env.integer("CRONTOPUS_ACCESS_TOKEN_TTL", 15 * 60, low=30),
            refresh_token_ttl=env.integer("CRONTOPUS_REFRESH_TOKEN_TTL", 30 * 24 * 3600, low=60),
            public_url=(env.text("CRONTOPUS_PUBLIC_URL") or None),
            agent_wheels=env.directory("CRONTOPUS_AGENT_WHEELS"),
            auth_cache_seconds=env.integer("CRONTOPUS_AUTH_CACHE_SECONDS", 5, low=0, high=300),
            event_bus=event_bus_of(env.text("CRONTOPUS_EVENT_BUS"), database_url),
            heartbeat_interval=env.integer("CRONTOPUS_HEARTBEAT_INTERVAL", 30, low=1, high=3600),
            enrollment_token_days=env.integer(
                "CRONTOPUS_ENROLLMENT_TOKEN_DAYS", 7, low=1, high=3650
            ),
            run_retention=env.integer("CRONTOPUS_RUN_RETENTION", 1000, low=10),
            alert_interval=env.integer("CRONTOPUS_ALERT_INTERVAL", 30, low=1, high=3600),
            default_max_duration=env.integer(
                "CRONTOPUS_DEFAULT_MAX_DURATION", 0, low=0, high=31 * 24 * 3600
            )
            or None,
            stuck_factor=env.integer("CRONTOPUS_STUCK_FACTOR", 3, low=0, high=100),
            in_process_worker=env.boolean("CRONTOPUS_IN_PROCESS_WORKER", default=True),
            notification_attempts=env.integer("CRONTOPUS_NOTIFICATION_ATTEMPTS", 6, low=1, high=50),
            notification_backoff=env.integer(
                "CRONTOPUS_NOTIFICATION_BACKOFF", 30, low=1, high=3600
            ),
            notification_timeout=env.integer("CRONTOPUS_NOTIFICATION_TIMEOUT", 30, low=1, high=300),
            outbound=outbound_policy_of(env.text(ALLOW_VARIABLE)),
            metrics_token=env.secret("CRONTOPUS_METRICS_TOKEN") or None,
            log_format=log_format_of(env.text("CRONTOPUS_LOG_FORMAT")),
            websocket_compression=env.boolean("CRONTOPUS_WEBSOCKET_COMPRESSION", default=False),
            database_timeout=env.integer("CRONTOPUS_DATABASE_TIMEOUT", 10, low=1, high=300),
            ingest_queue_limit=env.integer(
                "CRONTOPUS_INGEST_QUEUE_LIMIT", 10_000, low=100, high=1_000_000
            ),
            trusted_proxies=env.networks("CRONTOPUS_TRUSTED_PROXIES"),
            password_policy=PasswordPolicy(
                min_length=env.integer(
                    "CRONTOPUS_PASSWORD_MIN_LENGTH",
                    DEFAULT_MIN_LENGTH,
                    low=LOWEST_MIN_LENGTH,
                    high=64,
                )
            ),
            mail=mail_settings_of(env),
            limits=Limits(
                max_query_depth=env.integer("CRONTOPUS_MAX_QUERY_DEPTH", 12, low=2),
                max_aliases=env.integer("CRONTOPUS_MAX_ALIASES", 30, low=1),
                max_tokens=env.integer("CRONTOPUS_MAX_TOKENS", 2000, low=50),
                max_page_size=env.integer("CRONTOPUS_MAX_PAGE_SIZE", 100, low=1, high=1000),
                max_cost=env.integer("CRONTOPUS_MAX_QUERY_COST", 50_000, low=100),
            ),
            checkin_limits=CheckInLimits(
                max_age=timedelta(
                    days=env.integer("CRONTOPUS_CHECKIN_MAX_AGE_DAYS", 90, low=1, high=3650)
                ),
                max_ahead=timedelta(
                    seconds=env.integer("CRONTOPUS_CHECKIN_MAX_AHEAD", 600, low=0, high=86400)
                ),
                max_duration=timedelta(
                    seconds=env.integer(
                        "CRONTOPUS_CHECKIN_MAX_DURATION",
                        MAX_RUN_DURATION_SECONDS,
                        low=1,
                        high=MAX_RUN_DURATION_SECONDS,
                    )
                ),
            ),
            rate_limits=rate_limits_of(env, database_url),
            quotas=Quotas(
                jobs=env.integer("CRONTOPUS_QUOTA_JOBS", Quotas.jobs, low=0),
                endpoints=env.integer("CRONTOPUS_QUOTA_ENDPOINTS", Quotas.endpoints, low=0),
                enrollment_tokens=env.integer(
                    "CRONTOPUS_QUOTA_ENROLLMENT_TOKENS", Quotas.enrollment_tokens, low=0
                ),
                api_tokens=env.integer("CRONTOPUS_QUOTA_API_TOKENS", Quotas.api_tokens, low=0),
                channels=env.integer("CRONTOPUS_QUOTA_CHANNELS", Quotas.channels, low=0),
                discovered_jobs=env.integer(
                    "CRONTOPUS_QUOTA_DISCOVERED_JOBS", Quotas.discovered_jobs, low=0
                ),
                secrets=env.integer("CRONTOPUS_QUOTA_SECRETS", Quotas.secrets, low=0),
            ),
            transport=transport_limits_of(env),
            oidc_providers=oidc_providers_of(env),
            git=git_settings_of(env),
        )


OIDC_PROVIDERS_VARIABLE = "CRONTOPUS_OIDC_PROVIDERS"


def oidc_providers_of(env: _Env) -> tuple[OidcProvider, ...]:
    """Read CRONTOPUS_OIDC_PROVIDERS and each named provider's CRONTOPUS_OIDC_<NAME>_* settings."""
    providers: list[OidcProvider] = []
    for name in env.listing(OIDC_PROVIDERS_VARIABLE):
        name = name.lower()
        if not NAME_RE.match(name):
            raise ConfigurationError(
                f"{OIDC_PROVIDERS_VARIABLE}: {name!r} is not a provider name (lowercase letters "
                "and digits, starting with a letter, at most 31; e.g. corp,google)"
            )
        if any(p.name == name for p in providers):
            raise ConfigurationError(f"{OIDC_PROVIDERS_VARIABLE}: {name!r} is named twice")
        prefix = f"CRONTOPUS_OIDC_{name.upper()}_"
        issuer = env.text(prefix + "ISSUER").rstrip("/")
        client_id = env.text(prefix + "CLIENT_ID")
        client_secret = env.secret(prefix + "CLIENT_SECRET")
        for variable, value in (
            ("ISSUER", issuer),
            ("CLIENT_ID", client_id),
            ("CLIENT_SECRET", client_secret),
        ):
            if not value:
                raise ConfigurationError(
                    f"{prefix}{variable}: must be set, since {OIDC_PROVIDERS_VARIABLE} names "
                    f"{name!r} (see docs/configuration.md, single sign-on)"
                )
        if problem := issuer_problem(issuer):
            raise ConfigurationError(f"{prefix}ISSUER: {problem}")
        scopes = tuple(env.text(prefix + "SCOPES").split()) or DEFAULT_SCOPES
        if "openid" not in scopes:
            raise ConfigurationError(
                f"{prefix}SCOPES: must include openid (the default is {' '.join(DEFAULT_SCOPES)})"
            )
        providers.append(
            OidcProvider(
                name=name,
                issuer=issuer,
                client_id=client_id,
                client_secret=client_secret,
                label=env.text(prefix + "LABEL") or name.capitalize(),
                scopes=scopes,
            )
        )
    return tuple(providers)


def issuer_problem(issuer: str) -> str | None:
    """Say what is wrong with an issuer URL, or None: https, or http on a loopback host."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{issuer!r} is not an https:// URL (write the issuer, e.g. https://id.example.com)"
    if parts.query or parts.fragment:
        return f"{issuer!r} must not have a query or fragment"
    if parts.scheme == "http" and not _on_this_machine(parts.hostname):
        return f"{issuer!r} must use https (plain http only for a provider on this machine)"
    return None


def _on_this_machine(host: str) -> bool:
    """Whether a URL's host is a loopback address or `localhost` (where plain http may do)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


#: The settings that only mean something with CRONTOPUS_GIT_STORE=external.
_EXTERNAL_ONLY = (
    "CRONTOPUS_GIT_EXTERNAL_URL",
    "CRONTOPUS_GIT_EXTERNAL_USERNAME",
    "CRONTOPUS_GIT_EXTERNAL_TOKEN",
    "CRONTOPUS_GIT_EXTERNAL_TOKEN_FILE",
    "CRONTOPUS_GIT_WEBHOOK_SECRET",
    "CRONTOPUS_GIT_WEBHOOK_SECRET_FILE",
    "CRONTOPUS_GIT_FETCH_INTERVAL",
)
#: The shortest webhook secret accepted: it is all that stands between anyone and a fetch.
MIN_WEBHOOK_SECRET = 16


def git_settings_of(env: _Env) -> GitSettings:
    """Read CRONTOPUS_GIT_STORE and, for the external store, its forge and webhook settings."""
    value = env.text("CRONTOPUS_GIT_STORE").lower() or "managed"
    try:
        kind = GitStoreKind(value)
    except ValueError:
        raise ConfigurationError(
            f"CRONTOPUS_GIT_STORE: {value!r} is not a Git store (use managed or external)"
        ) from None
    if kind is GitStoreKind.MANAGED:
        for name in _EXTERNAL_ONLY:
            if env.text(name):
                raise ConfigurationError(
                    f"{name}: only used with CRONTOPUS_GIT_STORE=external (it is managed): "
                    "set CRONTOPUS_GIT_STORE=external or unset it"
                )
        return GitSettings()
    url = env.text("CRONTOPUS_GIT_EXTERNAL_URL")
    if problem := external_url_problem(url):
        raise ConfigurationError(f"CRONTOPUS_GIT_EXTERNAL_URL: {problem}")
    token = env.secret("CRONTOPUS_GIT_EXTERNAL_TOKEN")
    if not token:
        raise ConfigurationError(
            "CRONTOPUS_GIT_EXTERNAL_TOKEN: must be set with CRONTOPUS_GIT_STORE=external "
            "(an access token of the forge account Crontopus pushes API changes with; "
            "CRONTOPUS_GIT_EXTERNAL_TOKEN_FILE reads it from a file)"
        )
    secret = env.secret("CRONTOPUS_GIT_WEBHOOK_SECRET") or None
    if secret is not None and len(secret) < MIN_WEBHOOK_SECRET:
        raise ConfigurationError(
            f"CRONTOPUS_GIT_WEBHOOK_SECRET: must be at least {MIN_WEBHOOK_SECRET} characters "
            "(generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return GitSettings(
        store=kind,
        external_url=url,
        external_username=env.text("CRONTOPUS_GIT_EXTERNAL_USERNAME") or "crontopus",
        external_token=token,
        fetch_interval=env.integer("CRONTOPUS_GIT_FETCH_INTERVAL", 60, low=1, high=3600),
        webhook_secret=secret,
    )


def external_url_problem(url: str) -> str | None:
    """Say what is wrong with a tenant-repository URL template, or None."""
    if not url:
        return (
            "must be set with CRONTOPUS_GIT_STORE=external: the URL of a tenant's repository "
            f"with {TENANT_PLACEHOLDER} for its slug, like https://forge.example/ops/{{tenant}}.git"
        )
    if url.count(TENANT_PLACEHOLDER) != 1:
        return f"{url!r} must hold {TENANT_PLACEHOLDER} once (it becomes each tenant's slug)"
    if TENANT_PLACEHOLDER not in urlsplit(url).path:
        return f"{url!r} must hold {TENANT_PLACEHOLDER} in its path"
    parts = urlsplit(url.replace(TENANT_PLACEHOLDER, "tenant"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an https:// URL (SSH remotes are not supported)"
    if parts.username is not None or parts.password is not None:
        return (
            "must not carry credentials: set CRONTOPUS_GIT_EXTERNAL_USERNAME and "
            "CRONTOPUS_GIT_EXTERNAL_TOKEN instead"
        )
    if parts.query or parts.fragment:
        return f"{url!r} must not have a query or fragment"
    if parts.scheme == "http" and not _on_this_machine(parts.hostname):
        # The token travels with every fetch and push: only https leaves the machine.
        return f"{url!r} must use https (plain http only for a forge on this machine)"
    return None


def transport_limits_of(env: _Env) -> TransportLimits:
    """Read the request-size, WebSocket and Git process limits."""
    default = TransportLimits()
    return TransportLimits(
        graphql_body=env.integer("CRONTOPUS_MAX_GRAPHQL_BODY", default.graphql_body, low=KIB),
        checkin_body=env.integer("CRONTOPUS_MAX_CHECKIN_BODY", default.checkin_body, low=KIB),
        git_body=env.integer("CRONTOPUS_MAX_GIT_BODY", default.git_body, low=MIB),
        git_hook_body=env.integer(
            "CRONTOPUS_MAX_GIT_HOOK_BODY", default.git_hook_body, low=KIB, high=64 * MIB
        ),
        other_body=env.integer("CRONTOPUS_MAX_REQUEST_BODY", default.other_body, low=KIB),
        websocket_message=env.integer(
            "CRONTOPUS_MAX_WEBSOCKET_MESSAGE", default.websocket_message, low=KIB
        ),
        websocket_init_seconds=env.integer(
            "CRONTOPUS_WEBSOCKET_INIT_TIMEOUT", default.websocket_init_seconds, low=1, high=300
        ),
        subscriptions_per_socket=env.integer(
            "CRONTOPUS_MAX_SUBSCRIPTIONS_PER_SOCKET", default.subscriptions_per_socket, low=1
        ),
        sockets_per_principal=env.integer(
            "CRONTOPUS_MAX_SOCKETS_PER_PRINCIPAL", default.sockets_per_principal, low=1
        ),
        git_processes=env.integer("CRONTOPUS_MAX_GIT_PROCESSES", default.git_processes, low=1),
        git_queue_seconds=env.integer(
            "CRONTOPUS_GIT_QUEUE_TIMEOUT", default.git_queue_seconds, low=0, high=300
        ),
    )


def mail_settings_of(env: _Env) -> MailSettings:
    """Read CRONTOPUS_SMTP_URL (or _FILE), CRONTOPUS_MAIL_FROM and CRONTOPUS_EMAIL_VERIFICATION."""
    url = env.secret("CRONTOPUS_SMTP_URL")
    try:
        smtp = parse_smtp_url(url) if url else None
    except ValueError as error:
        raise ConfigurationError(f"CRONTOPUS_SMTP_URL: {error}") from None
    sender = env.text("CRONTOPUS_MAIL_FROM") or DEFAULT_MAIL_FROM
    if "@" not in sender or "\n" in sender or "\r" in sender:
        raise ConfigurationError(
            f"CRONTOPUS_MAIL_FROM: {sender!r} is not a From address "
            "(write it like crontopus@example.com or Crontopus <crontopus@example.com>)"
        )
    value = env.text("CRONTOPUS_EMAIL_VERIFICATION").lower() or "optional"
    try:
        verification = EmailVerification(value)
    except ValueError:
        raise ConfigurationError(
            f"CRONTOPUS_EMAIL_VERIFICATION: {value!r} is not a choice (use required, optional "
            "or off)"
        ) from None
    if verification is EmailVerification.REQUIRED and smtp is None:
        raise ConfigurationError(
            "CRONTOPUS_EMAIL_VERIFICATION: required needs CRONTOPUS_SMTP_URL, or nobody could "
            "ever verify an address; set CRONTOPUS_SMTP_URL or choose optional or off"
        )
    if smtp is not None and not env.text("CRONTOPUS_PUBLIC_URL"):
        # Links in account mail must not be built from a request's Host header, which the
        # requester chooses (a reset link pointing elsewhere would hand over the token).
        raise ConfigurationError(
            "CRONTOPUS_SMTP_URL: account mail carries links, which need CRONTOPUS_PUBLIC_URL "
            "(the address people open the console at, like https://crontopus.example.com)"
        )
    return MailSettings(smtp=smtp, sender=sender, verification=verification)


def normalise_database_url(url: str) -> str:
    """Map plain `sqlite://` and `postgresql://` URLs onto their async drivers."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise ConfigurationError(
        f"CRONTOPUS_DATABASE_URL: unsupported database URL {url.split('://')[0]}://… "
        "(use sqlite:///path/to/file.db or postgresql://user@host/dbname)"
    )


def event_bus_of(value: str, database_url: str) -> EventBus | None:
    """Parse CRONTOPUS_EVENT_BUS; the PostgreSQL bus needs a PostgreSQL database."""
    if not value:
        return None
    try:
        bus = EventBus(value.lower())
    except ValueError:
        raise ConfigurationError(
            f"CRONTOPUS_EVENT_BUS: {value!r} is not an event bus (use inprocess or postgres)"
        ) from None
    if bus is EventBus.POSTGRES and not database_url.startswith("postgresql"):
        raise ConfigurationError(
            "CRONTOPUS_EVENT_BUS: postgres needs CRONTOPUS_DATABASE_URL to be a PostgreSQL "
            "database (it is SQLite); unset CRONTOPUS_EVENT_BUS or set it to inprocess"
        )
    return bus


def rate_limits_of(env: _Env, database_url: str) -> RateLimits:
    """Read the CRONTOPUS_RATE_LIMIT_* variables."""
    defaults = RateLimits()
    store = env.text("CRONTOPUS_RATE_LIMIT_STORE").lower()
    try:
        chosen = RateLimitStore(store) if store else None
    except ValueError:
        raise ConfigurationError(
            f"CRONTOPUS_RATE_LIMIT_STORE: {store!r} is not a rate-limit store "
            "(use memory or postgres)"
        ) from None
    if chosen is RateLimitStore.POSTGRES and not database_url.startswith("postgresql"):
        raise ConfigurationError(
            "CRONTOPUS_RATE_LIMIT_STORE: postgres needs CRONTOPUS_DATABASE_URL to be a "
            "PostgreSQL database (it is SQLite); unset it or set it to memory"
        )
    return RateLimits(
        register=env.rate("CRONTOPUS_RATE_LIMIT_REGISTER", defaults.register),
        enroll=env.rate("CRONTOPUS_RATE_LIMIT_ENROLL", defaults.enroll),
        login=env.rate("CRONTOPUS_RATE_LIMIT_LOGIN", defaults.login),
        login_address=env.rate("CRONTOPUS_RATE_LIMIT_LOGIN_ADDRESS", defaults.login_address),
        checkins=env.rate("CRONTOPUS_RATE_LIMIT_CHECKINS", defaults.checkins),
        mutations=env.rate("CRONTOPUS_RATE_LIMIT_MUTATIONS", defaults.mutations),
        password_reset=env.rate("CRONTOPUS_RATE_LIMIT_PASSWORD_RESET", defaults.password_reset),
        store=chosen,
    )


def parse_rate(name: str, value: str) -> Rate | None:
    """Parse a rate like `10/minute`, `5/hour` or `10/15m`; `off` turns the limit off."""
    text = value.strip().lower()
    if text in {"off", "none", "unlimited"}:
        return None
    match = _RATE.match(text)
    if match is None:
        raise ConfigurationError(
            f"{name}: {value!r} is not a rate (write count/period like 10/minute, 5/hour, "
            "1000/day or 10/15m; or off)"
        )
    count, multiple, unit = int(match[1]), int(match[2] or 1), match[3][0]
    if count < 1 or multiple < 1:
        raise ConfigurationError(f"{name}: {value!r} must allow at least 1 per period (or: off)")
    return Rate(count, multiple * _PERIODS[unit])


def outbound_policy_of(value: str) -> OutboundPolicy:
    """Parse CRONTOPUS_OUTBOUND_ALLOW into the policy alert channels connect under."""
    try:
        return OutboundPolicy(parse_allow_list(value))
    except ValueError as error:
        raise ConfigurationError(f"{ALLOW_VARIABLE}: {error}") from None


def log_format_of(value: str) -> LogFormat:
    """Parse CRONTOPUS_LOG_FORMAT (auto, json or text)."""
    try:
        return LogFormat(value.lower() or "auto")
    except ValueError:
        raise ConfigurationError(
            f"CRONTOPUS_LOG_FORMAT: {value!r} is not a log format (use auto, json or text)"
        ) from None


def load_or_create_secret_key(data_dir: Path) -> str:
    """Return the persisted signing key, creating it with mode 0600 on first start."""
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def secrets_keys_of(value: str) -> tuple[str, ...]:
    """Parse CRONTOPUS_SECRETS_KEY: one or more keys separated by commas, newest first."""
    from crontopus.server.security.secret_box import key_problem

    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    for index, key in enumerate(keys):
        problem = key_problem(key)
        if problem is not None:
            raise ConfigurationError(f"CRONTOPUS_SECRETS_KEY: key {index + 1}: {problem}")
    return keys


def load_or_create_secrets_key(data_dir: Path) -> str:
    """Return the generated key of the secret store, creating it with mode 0600 at first use."""
    from crontopus.server.security.secret_box import new_key

    path = data_dir / SECRETS_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str:
        return self._environ.get(name, "").strip()

    def secret(self, name: str) -> str:
        """Read NAME, or the file named by NAME_FILE (for container secrets)."""
        if value := self.text(name):
            return value
        if file_name := self.text(f"{name}_FILE"):
            try:
                return Path(file_name).read_text().strip()
            except OSError as exc:
                raise ConfigurationError(f"{name}_FILE: cannot read {file_name}: {exc}") from exc
        return ""

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigurationError(f"{name}: {value!r} is not a boolean (use true or false)")

    def integer(self, name: str, default: int, *, low: int, high: int | None = None) -> int:
        value = self.text(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigurationError(f"{name}: {value!r} is not a whole number") from None
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigurationError(f"{name}: {number} is out of range (must be {bound})")
        return number

    def directory(self, name: str) -> Path | None:
        """Read an existing directory's path (made absolute), or None when unset."""
        value = self.text(name)
        if not value:
            return None
        path = Path(value).resolve()
        if not path.is_dir():
            raise ConfigurationError(
                f"{name}: {value!r} is not a directory (name an existing directory, or unset it)"
            )
        return path

    def rate(self, name: str, default: Rate | None) -> Rate | None:
        value = self.text(name)
        return parse_rate(name, value) if value else default

    def listing(self, name: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in self.text(name).split(",") if item.strip())

    def networks(self, name: str) -> tuple[str, ...]:
        """Parse a comma-separated list of IP addresses and CIDR networks."""
        networks = []
        for item in self.listing(name):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ConfigurationError(
                    f"{name}: {item!r} is not an IP address or network "
                    "(write addresses or CIDRs separated by commas, e.g. 10.0.0.0/8,::1)"
                ) from None
        return tuple(networks)

    def origins(self, name: str) -> tuple[str, ...]:
        origins = self.listing(name)
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ConfigurationError(
                    f"{name}: {origin!r} is not an origin "
                    "(write scheme://host[:port] without a path, e.g. https://ops.example.com)"
                )
        return tuple(origin.rstrip("/") for origin in origins)
