"""The documentation's commands run as written.

Every block fenced as `sh` in the pages below runs, in page order, in `bash -euo pipefail`
against one live `crontopus-server` per module, with a throwaway agent state directory, its own
crontab file and its own CLI config. Placeholders a reader fills in are filled in here: the
server's address (`https://crontopus.example.com`, `127.0.0.1:8080`, `localhost:8080`), an
enrollment token (`cten_…`), the tenant (`<tenant>`) and `$JOB_ID`. A block that only shows a
command is fenced as `sh illustration` (or `console illustration`) and is not run. So a doc edit
that breaks a command breaks the build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.docs.markdown import Block, blocks
from tests.server.conftest import LiveServer, sqlite_template, start_server, stop_server

__all__ = ["sqlite_template"]  # a fixture, used through `server`

ROOT = Path(__file__).resolve().parents[2]
PAGES = (
    "README.md",
    "docs/cli.md",
    "docs/agent.md",
    "docs/agent-protocol.md",
    "docs/git-store.md",
    "docs/job-manifest-spec.md",
)
BIN = Path(sys.executable).parent
PASSWORD = "docs harness passphrase"
# A line that starts like one of these is a command, and belongs in a `sh` block.
COMMAND_WORDS = re.compile(r"^\s*(\$ |crontopus(-agent|-server)? |curl |git |make |python3? )")
REGISTER = """
mutation($u: String!, $e: String!, $p: String!) { register(username: $u, email: $e,
  password: $p) { __typename ... on AuthPayload { accessToken tenant { slug } } } }
"""
CREATE_JOB = """
mutation { createJob(input: {name: "nightly", schedule: "0 2 * * *", command: "/bin/true"}) {
  __typename ... on Job { id } } }
"""
ENROLLMENT_TOKEN = """
mutation { createEnrollmentToken(name: "docs") {
  __typename ... on CreatedEnrollmentToken { plaintext } } }
"""


@dataclass
class Reader:
    """Someone following the docs: a tenant on the live server, and a place to work in."""

    server: LiveServer
    username: str
    access_token: str
    tenant: str
    job_id: str
    home: Path
    work: Path
    env: dict[str, str] = field(default_factory=dict)

    def graphql(self, query: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.server.url}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {self.access_token}"},
            timeout=30,
        )
        data: dict[str, Any] = response.json()["data"]
        return data

    def fill_in(self, text: str) -> str:
        """Replace what a reader would replace: the server, tokens, the tenant, ids."""
        url = self.server.url
        host = url.removeprefix("http://")
        text = text.replace("https://crontopus.example.com", url)
        text = text.replace("http://127.0.0.1:8080", url)
        text = text.replace("127.0.0.1:8080", host).replace("localhost:8080", host)
        text = text.replace("<tenant>", self.tenant)
        while "cten_…" in text:
            created = self.graphql(ENROLLMENT_TOKEN)["createEnrollmentToken"]
            text = text.replace("cten_…", created["plaintext"], 1)
        return text

    def run(self, block: Block) -> subprocess.CompletedProcess[str]:
        """Run one block as written (placeholders filled in) and return what it did."""
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.fill_in(block.text)],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def follow(self, page: str) -> list[subprocess.CompletedProcess[str]]:
        """Run every runnable block of a page in order; fail at the first that fails."""
        done = []
        for block in blocks(ROOT / page):
            if not block.runs:
                continue
            result = self.run(block)
            assert result.returncode == 0, (
                f"{block}: the block exited with {result.returncode}\n--- block\n{block.text}"
                f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
            )
            done.append(result)
        return done


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server for every page of this module (SQLite, a managed Git store)."""
    data_dir = tmp_path_factory.mktemp("docs-server")
    shutil.copyfile(sqlite_template, data_dir / "crontopus.db")
    live = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(data_dir),
            "CRONTOPUS_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'crontopus.db'}",
        }
    )
    yield live
    stop_server(live)


@pytest.fixture
def reader(server: LiveServer, tmp_path: Path) -> Reader:
    """A fresh tenant with one job, an empty home, agent state and crontab of its own."""
    username = f"docs{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        f"{server.url}/graphql",
        json={
            "query": REGISTER,
            "variables": {"u": username, "e": f"{username}@example.com", "p": PASSWORD},
        },
        timeout=30,
    )
    payload = response.json()["data"]["register"]
    assert payload["__typename"] == "AuthPayload", payload
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    crontab = tmp_path / "crontab"
    crontab.write_text("")
    (work / "output.log").write_text("backup done\n")
    tenant = payload["tenant"]["slug"]
    reader = Reader(server, username, payload["accessToken"], tenant, "", home, work)
    reader.job_id = reader.graphql(CREATE_JOB)["createJob"]["id"]
    reader.env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LANG": "C.UTF-8",
        "JOB_ID": reader.job_id,
        # The agent keeps its state here and writes this file instead of a real crontab.
        "CRONTOPUS_AGENT_STATE_DIR": str(tmp_path / "agent"),
        "CRONTOPUS_AGENT_DRIVER": "cron",
        "CRONTOPUS_AGENT_DRIVER_OPTIONS": f"crontab_file={crontab},machine_zone=UTC,cron_tz=no",
        "GIT_AUTHOR_NAME": "Docs Reader",
        "GIT_AUTHOR_EMAIL": "docs@example.com",
        "GIT_COMMITTER_NAME": "Docs Reader",
        "GIT_COMMITTER_EMAIL": "docs@example.com",
        "GIT_TERMINAL_PROMPT": "0",
    }
    return reader


def logged_in(reader: Reader) -> Reader:
    """Log the reader's CLI in, as README.md's first steps do."""
    login = subprocess.run(
        [str(BIN / "crontopus"), "login", "--server", reader.server.url,
         "--username", reader.username, "--password-stdin"],
        input=PASSWORD + "\n", env=reader.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    return reader


@pytest.mark.parametrize("page", PAGES)
def test_every_block_names_its_language_and_commands_sit_in_command_blocks(page: str) -> None:
    for block in blocks(ROOT / page):
        assert block.language, f"{block}: name the block's language (sh, yaml, text, ...)"
        if block.is_command:
            continue
        for line in block.text.splitlines():
            assert not COMMAND_WORDS.match(line), (
                f"{block}: {line.strip()!r} is a command: fence it as sh (or sh illustration)"
            )


def test_the_readme_walk_through_takes_a_newcomer_from_register_to_a_run(reader: Reader) -> None:
    results = reader.follow("README.md")
    assert len(results) == 1
    lines = results[-1].stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("RUN "))
    # The block ends with `crontopus runs list`: one run of the job, and it succeeded.
    assert [line.split()[1:3] for line in lines[header + 1 :]] == [["default/hello", "SUCCESS"]]


@pytest.mark.parametrize(
    "page",
    [
        "docs/cli.md",
        "docs/agent.md",
        "docs/agent-protocol.md",
        "docs/git-store.md",
        "docs/job-manifest-spec.md",
    ],
)
def test_the_commands_of_a_page_run_as_written(reader: Reader, page: str) -> None:
    logged_in(reader).follow(page)


def test_a_page_whose_command_fails_fails_its_test(reader: Reader, tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text(
        "```sh\ncrontopus jobs show default/nightly\n```\n\n"
        "```sh illustration\nexit 1\n```\n\n"
        "```sh\ncrontopus jobs show default/no-such-job\n```\n"
    )
    with pytest.raises(AssertionError, match=r"broken.md:9: the block exited with 1"):
        logged_in(reader).follow(str(page))


# `name.md` in backticks or as a link target: a page the reader is sent to.
CITED_PAGE = re.compile(r"`((?:[\w./-]+/)?[\w.-]+\.md)`|\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


def test_the_docs_cite_only_pages_that_are_in_the_repository() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    missing = []
    for page in pages:
        for found in CITED_PAGE.finditer(page.read_text(encoding="utf-8")):
            cited = found.group(1) or found.group(2)
            places = (page.parent / cited, ROOT / cited, ROOT / "docs" / cited)
            if not any(place.exists() for place in places):
                missing.append(f"{page.relative_to(ROOT)}: {cited}")
    assert missing == []
