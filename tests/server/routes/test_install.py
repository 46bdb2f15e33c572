"""The /install/ routes: installer scripts filled in for their server, and the agent's index."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from crontopus.server.installers.scripts import render
from crontopus.server.routes.install import install_routes
from crontopus.server.settings import Settings


def make_wheel(directory: Path, project: str, version: str) -> Path:
    path = directory / f"{project.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("placeholder.txt", f"{project} {version}")
    return path


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    directory.mkdir()
    for project in ("crontopus-core", "crontopus-drivers", "crontopus-agent"):
        make_wheel(directory, project, "1.2.0")
        make_wheel(directory, project, "1.10.0")
    make_wheel(directory, "crontopus-agent", "1.11.0")  # no core and drivers of 1.11.0
    make_wheel(directory, "crontopus-server", "1.10.0")  # not the agent's: never listed
    (directory / "notes.txt").write_text("not a wheel")
    return directory


def client_for(
    tmp_path: Path, directory: Path | None, public_url: str | None = None
) -> httpx.AsyncClient:
    settings = Settings(
        data_dir=tmp_path, database_url="sqlite://", secret_key="k" * 32, public_url=public_url
    )
    routes = install_routes(settings, directory or tmp_path / "no-such-directory")
    app = Starlette(routes=routes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_it_lists_only_the_agents_projects_in_the_simple_index(
    tmp_path: Path, wheels: Path
) -> None:
    async with client_for(tmp_path, wheels) as client:
        root = await client.get("/install/simple/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert re.findall(r'href="([^"]+)"', root.text) == [
        "crontopus-agent/",
        "crontopus-core/",
        "crontopus-drivers/",
    ]


async def test_it_links_each_wheel_with_its_sha256_and_python_requirement(
    tmp_path: Path, wheels: Path
) -> None:
    async with client_for(tmp_path, wheels) as client:
        page = await client.get("/install/simple/crontopus-agent/")
        links = re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page.text)
        base = "/install/simple/crontopus-agent/"
        downloads = [await client.get(base + href) for href, _ in links]
    assert page.status_code == 200
    assert [href for href, _ in links] == [
        "../../wheels/crontopus_agent-1.10.0-py3-none-any.whl",
        "../../wheels/crontopus_agent-1.11.0-py3-none-any.whl",
        "../../wheels/crontopus_agent-1.2.0-py3-none-any.whl",
    ]
    assert 'data-requires-python="&gt;=3.11"' in page.text
    for (href, digest), download in zip(links, downloads, strict=True):
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == digest
        assert download.content == (wheels / href.rsplit("/", 1)[1]).read_bytes()


async def test_it_redirects_a_project_name_to_its_normalised_form(
    tmp_path: Path, wheels: Path
) -> None:
    async with client_for(tmp_path, wheels) as client:
        response = await client.get("/install/simple/Crontopus_Agent/")
    assert response.status_code == 301
    assert response.headers["location"] == "../crontopus-agent/"


async def test_it_answers_404_for_other_projects_and_files(tmp_path: Path, wheels: Path) -> None:
    async with client_for(tmp_path, wheels) as client:
        server = await client.get("/install/simple/crontopus-server/")
        other_file = await client.get("/install/wheels/notes.txt")
        server_wheel = await client.get("/install/wheels/crontopus_server-1.10.0-py3-none-any.whl")
        escape = await client.get("/install/wheels/..%2Fwheels%2Fnotes.txt")
    assert [server.status_code, other_file.status_code, server_wheel.status_code] == [404] * 3
    assert escape.status_code == 404


async def test_it_says_how_to_provide_the_wheels_when_there_are_none(tmp_path: Path) -> None:
    async with client_for(tmp_path, None) as client:
        root = await client.get("/install/simple/")
        project = await client.get("/install/simple/crontopus-agent/")
        script = await client.get("/install/agent.sh")
    assert root.status_code == project.status_code == 404
    assert "make dist" in root.text
    assert "CRONTOPUS_AGENT_WHEELS" in project.text
    assert "AGENT_VERSION=''" in script.text
    assert "AGENT_WHEELS=''" in script.text


async def test_it_fills_in_the_address_and_the_newest_complete_release_by_hash(
    tmp_path: Path, wheels: Path
) -> None:
    async with client_for(tmp_path, wheels) as client:
        sh = await client.get("/install/agent.sh")
        ps1 = await client.get("/install/agent.ps1")
    assert sh.headers["content-type"].startswith("text/x-shellscript")
    assert "SERVER='http://testserver'" in sh.text
    assert "AGENT_VERSION='1.10.0'" in sh.text
    (listed,) = re.findall(r"^AGENT_WHEELS='([^']*)'$", sh.text, re.MULTILINE)
    expected = [
        f"{name}-1.10.0-py3-none-any.whl"
        for name in ("crontopus_core", "crontopus_drivers", "crontopus_agent")
    ]
    assert [item.split("#")[0] for item in listed.split()] == expected
    for item, name in zip(listed.split(), expected, strict=True):
        assert item.split("#sha256=")[1] == hashlib.sha256((wheels / name).read_bytes()).hexdigest()
    assert f"$AgentWheels = '{listed}'" in ps1.text
    assert "[string]$Server = 'http://testserver'," in ps1.text
    assert "$AgentVersion = '1.10.0'" in ps1.text
    assert "__CRONTOPUS" not in sh.text + ps1.text


async def test_it_prefers_the_configured_public_url(tmp_path: Path, wheels: Path) -> None:
    async with client_for(tmp_path, wheels, "https://crontopus.example.com/") as client:
        sh = await client.get("/install/agent.sh")
    assert "SERVER='https://crontopus.example.com'" in sh.text


def test_it_quotes_the_address_so_no_character_of_it_becomes_a_command(tmp_path: Path) -> None:
    hostile = "http://x'$(touch pwned)'`id`"
    script = render("agent.sh", hostile, [])
    line = next(line for line in script.splitlines() if line.startswith("SERVER="))
    result = subprocess.run(
        ["sh", "-c", f'{line}\nprintf %s "$SERVER"'],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert result.stdout == hostile
    assert not (tmp_path / "pwned").exists()
    assert "[string]$Server = 'http://x''$(touch pwned)''`id`'," in render("agent.ps1", hostile, [])
