"""Crontopus behind a real nginx that terminates TLS: the server sees the real client and the
https scheme from that proxy only, and the agent will not send its token around the TLS."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crontopus.agent.checkin import CheckIn, Delivery, send_checkin
from crontopus.agent.errors import ServerRefused
from crontopus.agent.server import ServerClient
from tests.server.conftest import LOGIN, PASSWORD, REGISTER, free_port, start_server, stop_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# nginx connects to Crontopus from this address, which is the only one trusted: the test
# client, on 127.0.0.1, must not be able to forward anything.
PROXY_ADDRESS = "127.0.0.2"

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        location / {{
            proxy_pass {upstream};
            proxy_bind {proxy_address};
            proxy_http_version 1.1;
            proxy_max_temp_file_size 0;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
    }}
}}
"""


@dataclass
class Site:
    """Crontopus on plain http, and nginx serving it at https://localhost:<port>."""

    direct: str
    public: str
    cert: Path

    @property
    def tls(self) -> ssl.SSLContext:
        """Trust the proxy's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def _certificate(root: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip


def _wait_for(url: str, cert: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {log.read_text()}")
        try:
            context = ssl.create_default_context(cafile=str(cert))
            if httpx.get(url, verify=context, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer within 15 s: {log.read_text()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not os.access(NGINX, os.X_OK):
        pytest.skip(f"no nginx at {NGINX}: apt-get install nginx-light (CI installs it)")
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make the proxy's certificate: apt-get install openssl")
    root = tmp_path_factory.mktemp("nginx")
    _certificate(root)
    port = free_port()
    public = f"https://localhost:{port}"
    data = root / "data"
    server = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(data),
            "CRONTOPUS_DATABASE_URL": f"sqlite:///{data / 'crontopus.db'}",
            "CRONTOPUS_TRUSTED_PROXIES": PROXY_ADDRESS,
            "CRONTOPUS_PUBLIC_URL": public,
        },
        migrate=True,
    )
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(root=root, port=port, upstream=server.url, proxy_address=PROXY_ADDRESS)
    )
    # Run as this user with its own prefix and files: nothing of the system's nginx is touched.
    nginx = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log"),
         "-g", "daemon off;"],
    )  # fmt: skip
    try:
        _wait_for(f"{public}/health", root / "cert.pem", nginx, root / "error.log")
        yield Site(direct=server.url, public=public, cert=root / "cert.pem")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        stop_server(server)


@pytest.fixture(scope="module")
def token(site: Site) -> str:
    answer = httpx.post(
        f"{site.public}/graphql",
        json={"query": REGISTER, "variables": {"username": "alice",
                                               "email": "alice@example.com",
                                               "password": PASSWORD}},
        verify=site.tls,
    )  # fmt: skip
    access: str = answer.json()["data"]["register"]["accessToken"]
    return access


def graphql(site: Site, query: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(
        f"{site.public}/graphql",
        json={"query": query},
        headers=headers,
        verify=site.tls,
    )


def test_through_the_proxy_the_server_knows_it_is_served_over_https(site: Site) -> None:
    response = httpx.get(f"{site.public}/health", verify=site.tls)
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert response.json()["publicUrl"] == site.public
    direct = httpx.get(f"{site.direct}/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in direct.headers  # 127.0.0.1 is not a proxy


def test_the_clone_url_and_the_refresh_cookie_follow_the_forwarded_scheme(
    site: Site, token: str
) -> None:
    clone = graphql(site, "{ repository { cloneUrl } }", token).json()["data"]["repository"]
    assert clone["cloneUrl"].startswith(f"{site.public}/git/alice/")
    login = httpx.post(
        f"{site.public}/graphql",
        json={"query": LOGIN.replace("tenant: $tenant)", "tenant: $tenant, useCookie: true)"),
              "variables": {"username": "alice", "password": PASSWORD}},
        verify=site.tls,
    )  # fmt: skip
    cookie = login.headers["set-cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    refreshed = httpx.post(
        f"{site.public}/auth/refresh",
        headers={"Origin": site.public, "Cookie": cookie.split(";", 1)[0]},
        verify=site.tls,
    )
    assert refreshed.status_code == 200, refreshed.text


def test_a_client_cannot_forge_its_address_through_the_proxy(site: Site, token: str) -> None:
    # nginx appends the real client (127.0.0.1) after whatever the client claimed.
    login = graphql(
        site,
        f'mutation {{ login(username: "alice", password: "{PASSWORD}") '
        "{ ... on AuthPayload { accessToken } } }",
        **{"X-Forwarded-For": "203.0.113.99"},
    )
    access = login.json()["data"]["login"]["accessToken"]
    sessions = graphql(site, "{ sessions { address current } }", access).json()["data"]
    assert {"address": "127.0.0.1", "current": True} in sessions["sessions"]


def test_the_login_limit_sees_the_real_client_behind_the_proxy(site: Site) -> None:
    wrong = 'mutation { login(username: "bob", password: "not it!!!!") { __typename } }'
    answers = [
        graphql(site, wrong, **{"X-Forwarded-For": f"198.51.100.{n}"}).json()["data"]["login"]
        for n in range(11)
    ]
    assert answers[-1]["__typename"] == "RateLimitedError"


def test_the_agent_refuses_to_send_its_token_over_plain_http_to_an_https_server(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        ServerClient(site.direct, "cte_not_sent") as client,
        pytest.raises(ServerRefused, match=f"set the agent's server to {site.public}"),
    ):
        client.repository()
    checkin = CheckIn("00000000-0000-4000-8000-000000000000", "r", "0", "2026-01-01T00:00:00Z")
    result = send_checkin(site.direct, "cte_not_sent", checkin, timeout=5)
    assert result.delivery is Delivery.UNREACHABLE
    assert "refusing to send the token over plain http" in result.message
    # Over https, through the proxy, the agent talks (and is told its token is unknown).
    monkeypatch.setenv("SSL_CERT_FILE", str(site.cert))
    with (
        ServerClient(site.public, "cte_not_sent") as client,
        pytest.raises(ServerRefused, match="malformed token"),
    ):
        client.repository()
