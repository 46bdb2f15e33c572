"""The console's assets, its SPA fallback, and browsers sent from /graphql to the playground."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from crontopus.server.routes.console import IMMUTABLE, BrowserRedirect, console_routes


def client_for(directory: Path | None) -> httpx.AsyncClient:
    routes = [Route("/graphql", BrowserRedirect(PlainTextResponse("api")), methods=["GET", "POST"])]
    app = Starlette(routes=routes + console_routes(directory))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<div id=root></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("no")
    return tmp_path


async def test_it_serves_hashed_assets_with_a_year_long_cache(dist: Path) -> None:
    async with client_for(dist) as client:
        response = await client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE


async def test_it_answers_every_console_path_with_an_uncached_index(dist: Path) -> None:
    async with client_for(dist) as client:
        paths = ("/", "/jobs/123", "/playground", "/health-report")
        pages = [await client.get(path) for path in paths]
    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    assert all(p.headers["cache-control"] == "no-cache" for p in pages)
    assert all("root" in p.text for p in pages)


async def test_it_answers_404_for_missing_files_and_api_paths(dist: Path) -> None:
    async with client_for(dist) as client:
        missing_asset = await client.get("/assets/gone-000.js")
        missing_file = await client.get("/robots.txt")
        api_path = await client.get("/checkin/x/y")
        escape = await client.get("/assets/..%2F..%2Fsecret.txt")
    assert missing_asset.status_code == 404
    assert missing_file.status_code == 404
    assert api_path.status_code == 404
    assert escape.status_code == 404


async def test_it_says_how_to_build_the_console_when_it_is_missing() -> None:
    async with client_for(None) as client:
        response = await client.get("/jobs")
    # Only meaningful where no build exists; the source tree may hold one.
    if response.status_code == 404:
        assert "npm --prefix web" in response.text
    else:
        assert response.headers["cache-control"] == "no-cache"


async def test_it_sends_a_browser_get_of_graphql_to_the_playground(dist: Path) -> None:
    async with client_for(dist) as client:
        browser = await client.get("/graphql", headers={"Accept": "text/html,*/*"})
        query = await client.get("/graphql?query={__typename}", headers={"Accept": "text/html"})
        program = await client.post("/graphql", headers={"Accept": "text/html"})
    assert browser.status_code == 302
    assert browser.headers["location"] == "/playground"
    assert query.text == "api"
    assert program.text == "api"
