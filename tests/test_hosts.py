"""Across hosts, end to end: a server host and two agent hosts, each a network namespace.

The hosts are joined by veth pairs to a bridge (a LAN in a namespace of its own) and have
addresses of the documentation range 192.0.2.0/24; no namespace has any other interface, so
nothing leaves them. The server runs in its namespace bound to its address. On each agent host a
throwaway user runs the served installer the way the console's one-liner does (`curl … | sh`),
with the agent's third-party dependencies from a local wheelhouse and no package index at all,
and enrolls. A job created through the API reaches both users' crontabs through the agents'
daemons; the crontab's command line, run inside each namespace as that user with cron's
environment, reports a run that arrives at the server from that host. Then each host leaves the
fleet with `unenroll`.

Each host gets its own /etc/machine-id through /etc/netns/<namespace>/ (`ip netns exec` mounts
it over /etc's), so the server sees two machines. Runs only with CRONTOPUS_TEST_MACHINE=1, as
root, where `ip netns` works; everything it creates (namespaces, /etc/netns entries, users,
crontabs, virtualenvs under a temporary directory) is removed again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crontopus.drivers.cron.crontab import ManagedBlock, parse_crontab, parse_job
from tests import support

pytestmark = [pytest.mark.machine, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text().strip()
LAN = "192.0.2"  # RFC 5737 documentation addresses: they exist only inside the namespaces
SERVER_ADDRESS = f"{LAN}.1"
PORT = 8080
SERVER_URL = f"http://{SERVER_ADDRESS}:{PORT}"
PASSWORD = "correct horse battery staple"
AGENT_PROJECTS = ("core", "drivers", "agent")
# What Debian's cron puts in a job's environment (besides the crontab's own assignments).
CRON_PATH = "/usr/bin:/bin"
WAIT = 90.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def namespaces_work() -> None:
    """Skip, saying why, where this machine cannot make network namespaces and users."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("no ip(8): apt-get install iproute2")
    if not support.can_make_users() or shutil.which("runuser") is None:
        pytest.skip("needs crontab(1), useradd and runuser")
    if not Path("/etc/machine-id").is_file():
        pytest.skip("no /etc/machine-id for a host namespace to replace with its own")
    probe = f"ctp-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"ip netns does not work here: {made.stderr.strip()}")
    try:
        bridge = subprocess.run(
            ["ip", "-n", probe, "link", "add", "br0", "type", "bridge"],
            capture_output=True,
            text=True,
        )
        veth = subprocess.run(
            ["ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
            capture_output=True,
            text=True,
        )
    finally:
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    if bridge.returncode != 0 or veth.returncode != 0:
        pytest.skip(f"no bridge or veth links here: {bridge.stderr.strip()} {veth.stderr.strip()}")


@pytest.fixture(scope="module")
def shared(namespaces_work: None) -> Iterator[Path]:
    """A directory every throwaway user can read (pytest's own temporary ones are root's)."""
    path = Path(tempfile.mkdtemp(prefix="crontopus-hosts-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def agent_python(namespaces_work: None) -> str:
    """A Python 3.11+ that can make virtualenvs and that any user may run."""
    check = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"
    base = getattr(sys, "_base_executable", sys.executable)
    for candidate in (base, "/usr/bin/python3", "/usr/local/bin/python3"):
        runs = subprocess.run(
            ["runuser", "-u", "nobody", "--", candidate, "-c", check],
            capture_output=True,
            check=False,
            timeout=30,
        )
        if runs.returncode == 0:
            return candidate
    pytest.skip("no Python 3.11+ with venv that an unprivileged user may run (python3-venv)")


@pytest.fixture(scope="module")
def agent_wheels(shared: Path) -> Path:
    """crontopus-core, -drivers and -agent built as `make dist` builds them."""
    directory = shared / "agent-wheels"
    for project in AGENT_PROJECTS:
        built = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--no-isolation",
                "--wheel",
                "--outdir",
                str(directory),
                str(ROOT / project),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert built.returncode == 0, built.stdout + built.stderr
    return directory


@pytest.fixture(scope="module")
def wheelhouse(shared: Path, agent_wheels: Path, agent_python: str) -> Path:
    """The agent's third-party dependencies as wheels for `agent_python`, as constraints.txt pins
    them, fetched once from this machine's configured index (the namespaces have none)."""
    house = shared / "wheelhouse"
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            agent_python,
            "download",
            "--quiet",
            "--only-binary",
            ":all:",
            "--dest",
            str(house),
            "-c",
            str(ROOT / "constraints.txt"),
            *sorted(str(wheel) for wheel in agent_wheels.glob("*.whl")),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert download.returncode == 0, download.stdout + download.stderr
    for wheel in house.glob("crontopus_*"):
        wheel.unlink()  # those come from the server
    return house


@dataclass
class Host:
    """One machine of the LAN: a network namespace with one address."""

    name: str
    namespace: str
    address: str

    def command(self, argv: list[str], user: str | None = None, **env: str) -> list[str]:
        """`argv` run on this host (as `user`, with only `env`)."""
        prefix = ["ip", "netns", "exec", self.namespace]
        if user is not None:
            prefix += ["runuser", "-u", user, "--"]
        return [*prefix, "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]


@contextlib.contextmanager
def lan(names: list[str]) -> Iterator[dict[str, Host]]:
    """The hosts `names` (the first is 192.0.2.1, then .11, .12, …) on one bridged LAN."""
    tag = secrets.token_hex(3)
    switch = f"ctp-{tag}-lan"
    made: list[str] = []
    made_etc = not Path("/etc/netns").exists()
    try:
        ip("netns", "add", switch)
        made.append(switch)
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "link", "set", "br0", "up")
        hosts = {}
        for index, name in enumerate(names):
            host = Host(name, f"ctp-{tag}-{name}", f"{LAN}.{1 if index == 0 else 10 + index}")
            ip("netns", "add", host.namespace)
            made.append(host.namespace)
            etc = Path("/etc/netns") / host.namespace
            etc.mkdir(parents=True)
            (etc / "machine-id").write_text(uuid.uuid4().hex + "\n")
            port = f"port{index}"
            ip(
                "-n",
                switch,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                host.namespace,
            )
            ip("-n", switch, "link", "set", port, "master", "br0", "up")
            ip("-n", host.namespace, "address", "add", f"{host.address}/24", "dev", "eth0")
            ip("-n", host.namespace, "link", "set", "eth0", "up")
            ip("-n", host.namespace, "link", "set", "lo", "up")
            hosts[name] = host
        yield hosts
    finally:
        for namespace in reversed(made):
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / namespace, ignore_errors=True)
        if made_etc:
            with contextlib.suppress(OSError):
                Path("/etc/netns").rmdir()


# Runs in the server's namespace: the test's own API client (urllib, no proxies).
CLIENT = """
import json, sys, urllib.error, urllib.request
request = json.load(sys.stdin)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
body = json.dumps(request["body"]).encode() if request["body"] is not None else None
headers = {"Content-Type": "application/json", **request["headers"]}
try:
    with opener.open(urllib.request.Request(request["url"], body, headers), timeout=10) as r:
        print(json.dumps({"status": r.status, "text": r.read().decode()}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "text": error.read().decode()}))
except OSError as error:
    print(json.dumps({"status": 0, "text": str(error)}))
"""


@dataclass
class Server:
    host: Host
    process: subprocess.Popen[bytes]

    def request(self, path: str, body: Any = None, token: str = "") -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = {"url": f"{SERVER_URL}{path}", "body": body, "headers": headers}
        result = subprocess.run(
            self.host.command([sys.executable, "-c", CLIENT], PATH=CRON_PATH),
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        return answer["status"], answer["text"]

    def graphql(self, query: str, token: str = "", **variables: Any) -> Any:
        status, text = self.request("/graphql", {"query": query, "variables": variables}, token)
        body = json.loads(text)
        assert status == 200, (status, body)
        assert not body.get("errors"), body
        return body["data"]


@contextlib.contextmanager
def serving(host: Host, data: Path, agent_wheels: Path) -> Iterator[Server]:
    """crontopus-server (of this source tree) in `host`'s namespace, bound to its address."""
    env = {
        "PATH": os.environ["PATH"],
        "CRONTOPUS_DATA_DIR": str(data),
        "CRONTOPUS_AGENT_WHEELS": str(agent_wheels),
    }
    program = str(Path(sys.executable).parent / "crontopus-server")
    serve = ["serve", "--host", host.address, "--port", str(PORT), "--migrate"]
    process = subprocess.Popen(
        host.command([program, "--log-level", "warning", *serve], **env),
        start_new_session=True,
    )
    server = Server(host, process)
    try:

        def healthy() -> bool:
            assert process.poll() is None, "crontopus-server exited"
            return server.request("/health")[0] == 200

        wait_for("the server to answer on its address", healthy, timeout=60)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not ended within 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@dataclass
class AgentHost:
    """An agent host: its user, and the directory holding its virtualenv and state."""

    host: Host
    user: str
    home: Path

    @property
    def prefix(self) -> Path:
        return self.home / "agent"

    @property
    def state(self) -> Path:
        return self.home / "state"

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        env = {"HOME": str(self.home), "PATH": f"/usr/local/bin:{CRON_PATH}", "LANG": "C.UTF-8"}
        return subprocess.run(
            self.host.command(argv, self.user, **env),
            capture_output=True,
            text=True,
            check=False,
            timeout=kwargs.pop("timeout", 120),
            **kwargs,
        )

    def agent(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(
            [str(self.prefix / "bin" / "crontopus-agent"), "--state-dir", str(self.state), *args]
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def crontab(self) -> str:
        # The crontab is a file of the machine, not of the network: read it from here.
        listed = subprocess.run(
            ["crontab", "-u", self.user, "-l"], capture_output=True, text=True, check=False
        )
        return listed.stdout if listed.returncode == 0 else ""

    def crontab_holding(self, text: str) -> str:
        """The user's crontab when it holds `text`, else nothing."""
        crontab = self.crontab()
        return crontab if text in crontab else ""


def managed_entry(crontab: str, job_id: str) -> str:
    """The command of the crontab line Crontopus wrote for the job."""
    for block in parse_crontab(crontab):
        if isinstance(block, ManagedBlock) and str(block.job_id) == job_id:
            job = parse_job(block.entry)
            assert job is not None, block.entry
            return job.command
    raise AssertionError(f"no entry of {job_id} in {crontab!r}")


def test_a_job_reaches_two_agent_hosts_installed_by_the_served_installer_and_both_report(
    namespaces_work: None, shared: Path, agent_wheels: Path, wheelhouse: Path, agent_python: str
) -> None:
    with contextlib.ExitStack() as stack:
        users = [stack.enter_context(support.throwaway_user()) for _ in range(2)]
        hosts = stack.enter_context(lan(["server", "web-1", "web-2"]))
        server = stack.enter_context(serving(hosts["server"], shared / "server", agent_wheels))
        agents = []
        for name, user in zip(("web-1", "web-2"), users, strict=True):
            home = shared / name
            home.mkdir()
            shutil.chown(home, user, user)
            home.chmod(0o700)
            agents.append(AgentHost(hosts[name], user, home))

        access = server.graphql(
            """mutation($p: String!) { register(username: "ops", email: "ops@example.com",
               password: $p) { ... on AuthPayload { accessToken } } }""",
            p=PASSWORD,
        )["register"]["accessToken"]
        token = server.graphql(
            'mutation { createEnrollmentToken(name: "lan", maxUses: 2) {'
            " ... on CreatedEnrollmentToken { plaintext } } }",
            access,
        )["createEnrollmentToken"]["plaintext"]

        # The console's one-liner, on both hosts at once; no index: only the wheelhouse.
        options = [
            "--token",
            token,
            "--driver",
            "cron",
            "--no-service",
            "--python",
            agent_python,
            "--find-links",
            str(wheelhouse),
            "--no-index",
        ]
        installs = []
        for agent in agents:
            flags = [
                *options,
                "--name",
                agent.host.name,
                "--label",
                f"host={agent.host.name}",
                "--prefix",
                str(agent.prefix),
                "--state-dir",
                str(agent.state),
            ]
            script = f"curl -fsS {SERVER_URL}/install/agent.sh | sh -s -- {' '.join(flags)}"
            env = {
                "HOME": str(agent.home),
                "PATH": f"/usr/local/bin:{CRON_PATH}",
                "LANG": "C.UTF-8",
                # A fresh host: no pip configuration of this machine's (its index, its caps).
                "PIP_CONFIG_FILE": os.devnull,
            }
            installs.append(
                subprocess.Popen(
                    agent.host.command(["sh", "-c", script], agent.user, **env),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for agent, install in zip(agents, installs, strict=True):
            stdout, stderr = install.communicate(timeout=300)
            assert install.returncode == 0, f"{agent.host.name}: {stdout}{stderr}"
            assert f"crontopus-agent {VERSION}" in stderr
            status = json.loads(agent.agent("status", "--json").stdout)
            assert (status["enrolled"], status["server"]) == (True, SERVER_URL)

        endpoints = {
            node["name"]: node
            for node in server.graphql(
                "{ endpoints { nodes { id name hostname status } } }", access
            )["endpoints"]["nodes"]
        }
        assert sorted(endpoints) == ["web-1", "web-2"]
        assert endpoints["web-1"]["id"] != endpoints["web-2"]["id"]

        # The agents' daemons, as the service would run them, each as its host's user.
        daemons = []
        for agent in agents:
            env = {"HOME": str(agent.home), "PATH": CRON_PATH, "CRONTOPUS_AGENT_SYNC_INTERVAL": "1"}
            argv = [
                str(agent.prefix / "bin" / "crontopus-agent"),
                "--state-dir",
                str(agent.state),
                "run",
            ]
            daemon = subprocess.Popen(
                agent.host.command(argv, agent.user, **env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            stack.callback(stop, daemon)
            daemons.append(daemon)

        # A daily job twelve hours away: a cron daemon of this machine will not fire it (it
        # would, outside the namespaces); the test starts its runs itself.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)
        job = server.graphql(
            "mutation($input: JobInput!) { createJob(input: $input) { ... on Job { id } } }",
            access,
            input={
                "name": "where",
                "schedule": f"{later.minute} {later.hour} * * *",
                "timezone": "UTC",
                "command": "hostname -I",
            },
        )["createJob"]["id"]

        commands = {}
        for agent in agents:
            crontab = wait_for(
                f"the job in {agent.user}'s crontab on {agent.host.name}",
                functools.partial(agent.crontab_holding, job),
            )
            commands[agent.host.name] = managed_entry(crontab, job)
            assert str(agent.prefix / "bin" / "crontopus-agent") in commands[agent.host.name]

        # Each host's run, started as cron starts it: the crontab's command through /bin/sh,
        # as the crontab's user, with cron's environment.
        for agent in agents:
            command, stdin = support.cron_command(commands[agent.host.name], debian=True)
            assert stdin is None
            fired = subprocess.run(
                agent.host.command(
                    ["/bin/sh", "-c", command],
                    agent.user,
                    SHELL="/bin/sh",
                    HOME=f"/home/{agent.user}",
                    LOGNAME=agent.user,
                    PATH=CRON_PATH,
                ),
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            assert fired.returncode == 0, fired.stdout + fired.stderr
            assert not list((agent.state / "spool").glob("*.checkin")), "a run was spooled"

        def finished_runs() -> list[dict[str, Any]]:
            runs = server.graphql(
                """query($j: UUID!) { runs(filter: {jobId: $j}, first: 10) {
                     nodes { endpointId status exitCode output } } }""",
                access,
                j=job,
            )["runs"]["nodes"]
            done = [run for run in runs if run["status"] != "RUNNING"]
            return runs if len(done) == len(agents) else []

        runs = {run["endpointId"]: run for run in wait_for("both runs", finished_runs)}
        assert len(runs) == len(agents)
        for agent in agents:
            run = runs[endpoints[agent.host.name]["id"]]
            assert (run["status"], run["exitCode"]) == ("SUCCESS", 0), run
            assert run["output"].split() == [agent.host.address]

        # Leaving the fleet: each host takes its entry out, and the server revokes it.
        for daemon in daemons:
            stop(daemon)
        for agent in agents:
            agent.agent("unenroll")
            assert job not in agent.crontab()
        nodes = server.graphql("{ endpoints { nodes { name status } } }", access)
        statuses = {node["name"]: node["status"] for node in nodes["endpoints"]["nodes"]}
        assert statuses == {"web-1": "REVOKED", "web-2": "REVOKED"}
