"""The password rules, and hashing never on the event loop (a login flood leaves the server
responsive)."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from crontopus.server.app import create_app
from crontopus.server.db.migrate import upgrade
from crontopus.server.errors import ConfigurationError
from crontopus.server.security.passwords import PasswordPolicy, common_passwords
from crontopus.server.serving import uvicorn_options
from crontopus.server.settings import Settings
from tests.server.conftest import PASSWORD, REGISTER, free_port

TICK = 0.01
LOGINS = 60

# The flood comes from another process, so the client's own work cannot show as server lag.
FLOOD = textwrap.dedent(
    """
    import asyncio, sys
    import httpx

    LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { __typename }}'

    async def main(url: str, count: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=240) as client:
            async def one(n: int) -> str:
                user = "alice" if n % 2 else f"nobody{n}"
                body = {"query": LOGIN, "variables": {"u": user, "p": f"wrong-{n}-password"}}
                response = await client.post("/graphql", json=body)
                return response.json()["data"]["login"]["__typename"]
            answers = await asyncio.gather(*(one(n) for n in range(count)))
        print(",".join(sorted(set(answers))))

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


class ServerThread(threading.Thread):
    """uvicorn serving Crontopus on a loopback port, in a thread whose event loop is probed."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            **uvicorn_options(settings),
        )
        self.server = uvicorn.Server(config)
        self.lags: list[float] = []
        self.probing = False

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        probe = asyncio.create_task(self._probe())
        await self.server.serve()
        probe.cancel()

    async def _probe(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            if self.probing:
                self.lags.append(time.perf_counter() - started - TICK)


def test_the_event_loop_stays_responsive_during_a_login_flood(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path / "data"),
            "CRONTOPUS_DATABASE_URL": f"sqlite:///{tmp_path / 'crontopus.db'}",
            # Every attempt must reach the password check: the flood is of hashing.
            "CRONTOPUS_RATE_LIMIT_LOGIN": "off",
            "CRONTOPUS_RATE_LIMIT_LOGIN_ADDRESS": "off",
            "CRONTOPUS_RATE_LIMIT_MUTATIONS": "off",
        }
    )
    asyncio.run(upgrade(settings.database_url))
    server = ServerThread(settings)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        deadline = time.monotonic() + 30
        while not server.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        variables = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
        httpx.post(f"{url}/graphql", json={"query": REGISTER, "variables": variables})
        server.probing = True
        started = time.perf_counter()
        flood = subprocess.run(
            [sys.executable, "-c", FLOOD, url, str(LOGINS)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        took = time.perf_counter() - started
        server.probing = False
    finally:
        server.server.should_exit = True
        server.join(timeout=30)
    assert flood.returncode == 0, flood.stderr
    # Rate limits are off: every one of the logins was refused by a password check.
    assert flood.stdout.strip() == "AuthenticationError"
    lags = sorted(server.lags)
    p99 = lags[int(len(lags) * 0.99)]
    median = statistics.median(lags)
    print(
        f"event-loop lag over {len(lags)} ticks: median {median * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms; {LOGINS} logins in {took:.1f} s"
    )
    assert p99 <= 0.050


def test_a_long_passphrase_of_plain_words_passes_without_digits_capitals_or_symbols() -> None:
    assert PasswordPolicy().problems("correct horse battery staple") == []


def test_a_short_password_is_refused_with_the_minimum_and_its_length() -> None:
    (problem,) = PasswordPolicy().problems("tulip-radio7")
    assert problem.startswith("is too short: passwords need at least 15 characters (this has 12)")


def test_the_minimum_length_is_a_setting_with_nists_floor_of_8() -> None:
    key = {"CRONTOPUS_SECRET_KEY": "k" * 32}
    settings = Settings.from_env({"CRONTOPUS_PASSWORD_MIN_LENGTH": "12", **key})
    assert settings.password_policy.problems("tulip-radio7") == []
    with pytest.raises(ConfigurationError, match="MIN_LENGTH: 7 is out of range"):
        Settings.from_env({"CRONTOPUS_PASSWORD_MIN_LENGTH": "7", **key})


def test_the_bundled_list_holds_twenty_thousand_common_passwords() -> None:
    listed = common_passwords()
    assert len(listed) > 19_000
    assert {"123456", "password", "qwerty", "iloveyou"} <= listed


@pytest.mark.parametrize(
    "password",
    [
        "1q2w3e4r5t6y7u8i9o0p",  # listed as it is
        "1Q2W3E4R5T6Y7U8I9O0P",  # in capitals
        "qwertyuiop123456789",  # a listed one with digits added
        "!!!!iloveyou!!!!",  # and symbols around it
        "passwordpasswordpassword",  # a listed one repeated
        "crontopus-2026-!!",  # the name of this service
    ],
)
def test_a_common_password_is_refused_naming_the_list(password: str) -> None:
    problems = PasswordPolicy(min_length=8).problems(password)
    assert any(p.startswith("is too common: it is on the list") for p in problems), problems


def test_a_password_of_few_distinct_characters_or_with_the_username_is_refused() -> None:
    policy = PasswordPolicy(min_length=8)
    assert policy.problems("abababababababab") == [
        "repeats too few characters: a password needs at least 4 different characters"
    ]
    assert policy.problems("alice in the wonderland", username="alice") == [
        "contains your username: choose a password without it"
    ]
