"""The release artifacts, used as an adopter would: only the built wheels, no source tree.

`make dist` builds every distribution; a clean virtualenv gets the wheels alone (third-party
dependencies from this machine's configured index); its crontopus-server migrates and serves
the console, the playground and the agent's wheels; and the installer it serves installs,
enrolls and upgrades an agent from that very server.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import PASSWORD, free_port

ROOT = Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text().strip()
DISTRIBUTIONS: tuple[str, ...] = (
    "crontopus",
    "crontopus_core",
    "crontopus_drivers",
    "crontopus_agent",
)
DISTRIBUTIONS += ("crontopus_server", "crontopus_cli")
ENDPOINTS = "{ endpoints { nodes { id name agentVersion lastSeenAt } } }"
pytestmark = pytest.mark.timeout(600)


def clean_environment() -> dict[str, str]:
    """This process's environment without anything pointing at the source tree or its venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PIP_CONSTRAINT"}
        and not key.startswith("CRONTOPUS_")
    }
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    return env


def run(command: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=kwargs.pop("env", clean_environment()),
        capture_output=True,
        text=True,
        check=False,
        timeout=kwargs.pop("timeout", 300),
        **kwargs,
    )


@dataclass
class Release:
    dist: Path
    venv: Path
    work: Path
    url: str
    data: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def graphql(self, query: str, token: str = "", **variables: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        ).json()
        assert not body.get("errors"), body
        return body["data"]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    if not (ROOT / "web" / "dist" / "index.html").is_file() and shutil.which("npm") is None:
        pytest.skip("the console is not built and there is no npm to build it (make web)")
    work = tmp_path_factory.mktemp("release")
    dist = work / "dist"
    built = run(["make", "--no-print-directory", "dist", f"DIST_DIR={dist}"], ROOT, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    venv = work / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], work)
    assert created.returncode == 0, created.stderr
    wheels = sorted(str(path) for path in dist.glob("*.whl"))
    # The dev environment's pip installs into the new one: only wheels, pinned as in development.
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    installed = run([*pip, "--quiet", "-c", str(ROOT / "constraints.txt"), *wheels], work)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    data = work / "data"
    env = {**clean_environment(), "CRONTOPUS_DATA_DIR": str(data)}
    migrated = run([str(venv / "bin" / "crontopus-server"), "migrate"], work, env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [str(venv / "bin" / "crontopus-server"), "--log-level", "warning", *serve],
        cwd=work,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "crontopus-server exited"
            assert time.monotonic() < deadline, "crontopus-server did not answer within 30 s"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Release(dist, venv, work, url, data)
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_make_dist_builds_a_wheel_and_sdist_of_every_distribution_at_one_version(
    release: Release,
) -> None:
    names = sorted(path.name for path in release.dist.iterdir())
    expected = sorted(
        f"{name}-{VERSION}{suffix}"
        for name in DISTRIBUTIONS
        for suffix in ("-py3-none-any.whl", ".tar.gz")
    )
    assert names == expected


def test_every_wheel_requires_the_other_crontopus_distributions_at_its_own_version(
    release: Release,
) -> None:
    # A mixed install (a new crontopus-agent over an old crontopus-core) cannot happen.
    pinned: dict[str, list[str]] = {}
    for wheel in sorted(release.dist.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            metadata = email.parser.HeaderParser().parsestr(archive.read(name).decode())
        requires = metadata.get_all("Requires-Dist") or []
        pinned[metadata["Name"]] = sorted(r for r in requires if r.startswith("crontopus"))
    core = f"crontopus-core=={VERSION}"
    assert pinned == {
        "crontopus": [
            f"crontopus-agent=={VERSION}; extra == 'agent'",
            f"crontopus-agent=={VERSION}; extra == 'all'",
            f"crontopus-cli=={VERSION}; extra == 'all'",
            f"crontopus-cli=={VERSION}; extra == 'cli'",
            core,
            f"crontopus-server=={VERSION}; extra == 'all'",
            f"crontopus-server=={VERSION}; extra == 'server'",
        ],
        "crontopus-agent": [core, f"crontopus-drivers=={VERSION}"],
        "crontopus-cli": [core, f"crontopus-drivers=={VERSION}"],
        "crontopus-core": [],
        "crontopus-drivers": [core],
        "crontopus-server": [core],
    }


def test_every_distribution_pins_with_the_same_hook() -> None:
    # Each sdist builds alone, so each distribution carries its own copy of the hook.
    copies = {path: path.read_bytes() for path in ROOT.glob("*/hatch_pins.py")}
    assert sorted(path.parent.name for path in copies) == ["agent", "clients", "drivers", "server"]
    assert set(copies.values()) == {(ROOT / "hatch_pins.py").read_bytes()}


def test_the_installed_wheels_run_without_the_source_tree(release: Release) -> None:
    where = run(
        [release.bin("python"), "-c", "import crontopus.server, crontopus.agent, sys; "
         "print(crontopus.server.__file__); print(crontopus.agent.__file__); print(sys.path)"],
        release.work,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    server_file, agent_file, path = where.stdout.splitlines()
    assert Path(server_file).is_relative_to(release.venv)
    assert Path(agent_file).is_relative_to(release.venv)
    assert str(ROOT) not in path
    for command, name in (
        ("crontopus-server", "crontopus-server"),
        ("crontopus-agent", "crontopus-agent"),
        ("crontopus", "crontopus"),
    ):
        shown = run([release.bin(command), "--version"], release.work)
        assert (shown.returncode, shown.stdout.strip()) == (0, f"{name} {VERSION}")


def test_the_installed_server_migrated_and_serves_the_console_and_playground(
    release: Release,
) -> None:
    assert (release.data / "crontopus.db").is_file()
    page = httpx.get(f"{release.url}/", timeout=10)
    playground = httpx.get(f"{release.url}/playground", headers={"Accept": "text/html"})
    assert page.status_code == playground.status_code == 200
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', page.text)
    assert scripts, page.text
    asset = httpx.get(f"{release.url}{scripts[0]}", timeout=10)
    assert asset.status_code == 200
    assert asset.content == (ROOT / "web" / "dist" / scripts[0].lstrip("/")).read_bytes()
    redirected = httpx.get(f"{release.url}/graphql", headers={"Accept": "text/html"})
    assert (redirected.status_code, redirected.headers["location"]) == (302, "/playground")


def test_the_installed_server_serves_the_agents_wheels_of_its_version(release: Release) -> None:
    for project in ("crontopus-core", "crontopus-drivers", "crontopus-agent"):
        page = httpx.get(f"{release.url}/install/simple/{project}/", timeout=10)
        assert page.status_code == 200, page.text
        ((href, digest),) = re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page.text)
        wheel = httpx.get(f"{release.url}/install/simple/{project}/{href}", timeout=10)
        name = href.rsplit("/", 1)[1]
        assert name == f"{project.replace('-', '_')}-{VERSION}-py3-none-any.whl"
        assert hashlib.sha256(wheel.content).hexdigest() == digest
        assert wheel.content == (release.dist / name).read_bytes()


def agent_status(agent: str, state: Path, cwd: Path) -> dict[str, Any]:
    shown = run([agent, "--state-dir", str(state), "status", "--json"], cwd)
    assert shown.returncode == 0, shown.stderr
    status: dict[str, Any] = json.loads(shown.stdout)
    return status


def test_the_served_installer_installs_enrolls_and_upgrades_an_agent_in_place(
    release: Release,
) -> None:
    script = release.work / "agent.sh"
    script.write_text(httpx.get(f"{release.url}/install/agent.sh", timeout=10).text)
    access = release.graphql(
        """mutation($p: String!) { register(username: "ops", email: "ops@example.com",
           password: $p) { ... on AuthPayload { accessToken } } }""",
        p=PASSWORD,
    )["register"]["accessToken"]
    create = 'mutation { createEnrollmentToken(name: "fleet") { ... on CreatedEnrollmentToken { plaintext } } }'  # noqa: E501
    token = release.graphql(create, access)["createEnrollmentToken"]["plaintext"]
    prefix, state = release.work / "opt-agent", release.work / "state"
    flags = ["--prefix", str(prefix), "--state-dir", str(state), "--no-service"]

    first = run(["sh", str(script), "--token", token, "--name", "web-1", "--label", "role=web",
                 "--driver", "cron", *flags], release.work)  # fmt: skip
    assert first.returncode == 0, first.stderr
    agent = str(prefix / "bin" / "crontopus-agent")
    assert run([agent, "--version"], release.work).stdout.strip() == f"crontopus-agent {VERSION}"
    status = agent_status(agent, state, release.work)
    assert (status["enrolled"], status["server"], status["name"]) == (True, release.url, "web-1")
    assert status["lastHeartbeatAt"] is None
    (endpoint,) = release.graphql(ENDPOINTS, access)["endpoints"]["nodes"]
    assert (endpoint["id"], endpoint["name"]) == (status["endpointId"], "web-1")

    daemon = subprocess.Popen(
        [agent, "--state-dir", str(state), "run"],
        cwd=release.work,
        env=clean_environment(),
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while agent_status(agent, state, release.work)["lastHeartbeatAt"] is None:
            assert daemon.poll() is None, "the agent daemon exited"
            assert time.monotonic() < deadline, "no heartbeat within 30 s"
            time.sleep(0.2)
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
    (endpoint,) = release.graphql(ENDPOINTS, access)["endpoints"]["nodes"]
    assert endpoint["agentVersion"] == VERSION
    assert endpoint["lastSeenAt"] is not None

    again = run(["sh", str(script), *flags], release.work)
    assert again.returncode == 0, again.stderr
    assert f"upgrading the agent in {prefix}" in again.stderr
    assert "already enrolled" in again.stderr
    assert agent_status(agent, state, release.work)["endpointId"] == endpoint["id"]

    # Enrolling the same machine again gives the same endpoint a new token.
    endpoint_token = (state / "endpoint-token").read_text()
    second = release.graphql(create, access)["createEnrollmentToken"]["plaintext"]
    replaced = run(["sh", str(script), "--reenroll", "--token-stdin", *flags], release.work,
                   input=second + "\n")  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    assert second not in replaced.stderr + replaced.stdout
    assert (state / "endpoint-token").read_text() != endpoint_token
    assert agent_status(agent, state, release.work)["endpointId"] == endpoint["id"]


def test_the_installer_asks_for_a_token_before_changing_anything(release: Release) -> None:
    script = release.work / "agent.sh"
    script.write_text(httpx.get(f"{release.url}/install/agent.sh", timeout=10).text)
    prefix = release.work / "no-token"
    result = run(["sh", str(script), "--prefix", str(prefix), "--state-dir",
                  str(release.work / "no-token-state"), "--no-service"], release.work)  # fmt: skip
    assert result.returncode == 1
    assert "enrolling needs a token: pass --token cten_... or --token-stdin" in result.stderr
    assert not prefix.exists()


@pytest.mark.machine
def test_the_installer_with_its_defaults_installs_in_opt_and_starts_the_service(
    release: Release,
) -> None:
    # The defaults: /opt/crontopus-agent, /var/lib/crontopus-agent and, where systemd runs, the
    # service; all removed again. A machine that has an agent already is left alone.
    prefix, state = Path("/opt/crontopus-agent"), Path("/var/lib/crontopus-agent")
    if os.geteuid() != 0:
        pytest.skip("the installer's defaults need root")
    if prefix.exists() or state.exists():
        pytest.skip(f"{prefix} or {state} exists: this machine has an agent of its own")
    systemd = Path("/run/systemd/system").is_dir()
    script = release.work / "agent.sh"
    script.write_text(httpx.get(f"{release.url}/install/agent.sh", timeout=10).text)
    access = release.graphql(
        """mutation($p: String!) { register(username: "machine", email: "m@example.com",
           password: $p) { ... on AuthPayload { accessToken } } }""",
        p=PASSWORD,
    )["register"]["accessToken"]
    create = 'mutation { createEnrollmentToken(name: "m") { ... on CreatedEnrollmentToken { plaintext } } }'  # noqa: E501
    token = release.graphql(create, access)["createEnrollmentToken"]["plaintext"]
    agent = str(prefix / "bin" / "crontopus-agent")
    try:
        flags = [] if systemd else ["--no-service"]
        result = run(["sh", str(script), "--token-stdin", "--wait", "60", *flags], release.work,
                     input=token + "\n")  # fmt: skip
        assert result.returncode == 0, result.stderr
        status = agent_status(agent, state, release.work)
        assert (status["enrolled"], status["stateDir"]) == (True, str(state))
        if systemd:
            assert "first heartbeat at" in result.stderr
            assert status["lastHeartbeatAt"] is not None
        (endpoint,) = release.graphql(ENDPOINTS, access)["endpoints"]["nodes"]
        assert endpoint["id"] == status["endpointId"]
    finally:
        if systemd and Path(agent).exists():
            run([agent, "service", "uninstall"], release.work)
        if Path(agent).exists():  # takes out whatever the agent put in root's scheduler
            run([agent, "unenroll", "--local-only"], release.work)
        shutil.rmtree(prefix, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


# launchctl as this Linux machine can play it: it records each call; `bootstrap` starts the
# plist's ProgramArguments (output to its StandardOutPath) and `bootout` stops it.
FAKE_LAUNCHCTL = """#!/bin/sh
echo "$*" >> "{log}"
case $1 in
bootstrap)
	[ ! -f "{pid}" ] || exit 5  # launchd's "Bootstrap failed: 5": the daemon is loaded
	"{python}" -c '
import plistlib, subprocess, sys
with open(sys.argv[1], "rb") as stream:
    job = plistlib.load(stream)
out = open(job["StandardOutPath"], "ab")
daemon = subprocess.Popen(job["ProgramArguments"], stdout=out, stderr=out,
                          start_new_session=True)
print(daemon.pid)
' "$3" > "{pid}"
	;;
bootout)
	[ -f "{pid}" ] || exit 3
	kill "$(cat "{pid}")"
	rm "{pid}"
	;;
esac
"""


@pytest.mark.machine
def test_on_macos_the_installer_installs_and_upgrades_the_launch_daemon(release: Release) -> None:
    # Only uname and launchctl are played; the plist is written where macOS keeps it.
    library = Path("/Library")
    if os.geteuid() != 0:
        pytest.skip("a LaunchDaemon is installed as root")
    if library.exists():
        pytest.skip(f"{library} exists: this machine is (or plays) a Mac already")
    work = release.work / "macos"
    fake = work / "bin"
    fake.mkdir(parents=True)
    (fake / "uname").write_text("#!/bin/sh\necho Darwin\n")
    calls, pid = work / "launchctl.log", work / "daemon.pid"
    (fake / "launchctl").write_text(
        FAKE_LAUNCHCTL.format(log=calls, pid=pid, python=release.bin("python"))
    )
    for program in fake.iterdir():
        program.chmod(0o755)
    env = clean_environment()
    env["PATH"] = f"{fake}:{env['PATH']}"
    script = work / "agent.sh"
    script.write_text(httpx.get(f"{release.url}/install/agent.sh", timeout=10).text)
    access = release.graphql(
        """mutation($p: String!) { register(username: "mac", email: "mac@example.com",
           password: $p) { ... on AuthPayload { accessToken } } }""",
        p=PASSWORD,
    )["register"]["accessToken"]
    create = 'mutation { createEnrollmentToken(name: "mac") { ... on CreatedEnrollmentToken { plaintext } } }'  # noqa: E501
    token = release.graphql(create, access)["createEnrollmentToken"]["plaintext"]
    prefix, state = work / "agent", work / "state"
    flags = ["--prefix", str(prefix), "--state-dir", str(state), "--wait", "60"]
    agent = str(prefix / "bin" / "crontopus-agent")
    plist = library / "LaunchDaemons" / "io.crontopus.agent.plist"
    try:
        first = run(["sh", str(script), "--token", token, "--name", "mac-1", *flags], work, env=env)
        assert first.returncode == 0, first.stderr
        assert "first heartbeat at" in first.stderr
        with plist.open("rb") as stream:
            job = plistlib.load(stream)
        assert job["Label"] == "io.crontopus.agent"
        assert job["ProgramArguments"] == [agent, "--state-dir", str(state), "run"]
        assert Path(job["StandardOutPath"]).parent.is_dir()
        assert calls.read_text().splitlines()[-2:] == [
            "enable system/io.crontopus.agent",
            f"bootstrap system {plist}",
        ]
        daemon = pid.read_text()

        # Again: an upgrade in place boots the running daemon out and bootstraps the new one.
        again = run(["sh", str(script), *flags], work, env=env)
        assert again.returncode == 0, again.stderr
        assert "first heartbeat at" in again.stderr
        assert calls.read_text().splitlines()[-3:] == [
            "bootout system/io.crontopus.agent",
            "enable system/io.crontopus.agent",
            f"bootstrap system {plist}",
        ]
        assert pid.read_text() != daemon
        (endpoint,) = [
            node
            for node in release.graphql(ENDPOINTS, access)["endpoints"]["nodes"]
            if node["name"] == "mac-1"
        ]
        assert endpoint["agentVersion"] == VERSION
    finally:
        if pid.exists():
            run([str(fake / "launchctl"), "bootout", "system/io.crontopus.agent"], work, env=env)
        shutil.rmtree(library, ignore_errors=True)
