"""A stand-in forge: the real `git http-backend` (CGI) behind an HTTP server with basic auth.

It serves bare repositories under `<root>/ops/<tenant>.git` on 127.0.0.1, the way Forgejo or
Gitea serve `https://forge/ops/<tenant>.git`: clone, fetch and push with the one account
it knows, anything else is 401.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USERNAME = "crontopus-bot"
TOKEN = "forge-token-0123456789"


@dataclass
class Forge:
    """A running forge: where its repositories live and how to reach them."""

    root: Path
    port: int

    @property
    def url_template(self) -> str:
        return f"http://127.0.0.1:{self.port}/ops/{{tenant}}.git"

    def url(self, tenant: str, *, credentials: bool = True) -> str:
        login = f"{USERNAME}:{TOKEN}@" if credentials else ""
        return f"http://{login}127.0.0.1:{self.port}/ops/{tenant}.git"

    def path(self, tenant: str) -> Path:
        return self.root / "ops" / f"{tenant}.git"

    def create(self, tenant: str) -> Path:
        """Create an empty repository for a tenant, as an operator does on the forge."""
        path = self.path(tenant)
        subprocess.run(
            ["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True
        )
        return path

    def head(self, tenant: str) -> str | None:
        result = subprocess.run(
            ["git", "--git-dir", str(self.path(tenant)), "rev-parse", "--verify", "-q", "main"],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() or None

    def files(self, tenant: str) -> set[str]:
        result = subprocess.run(
            ["git", "--git-dir", str(self.path(tenant)), "ls-tree", "-r", "--name-only", "main"],
            capture_output=True,
            text=True,
            check=True,
        )
        return set(result.stdout.split())


class _Handler(BaseHTTPRequestHandler):
    server: _ForgeServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest shows what matters

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _authorized(self) -> str | None:
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return user if (user, password) == (USERNAME, TOKEN) else None

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _cgi(self) -> None:
        user = self._authorized()
        body = self._body()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="forge"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.server.root),
        }
        if encoding := self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = encoding
        if protocol := self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = protocol
        result = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _ForgeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root


@contextmanager
def running_forge(root: Path) -> Iterator[Forge]:
    """Serve repositories under `root` until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    server = _ForgeServer(root)
    thread = threading.Thread(target=server.serve_forever, name="forge", daemon=True)
    thread.start()
    try:
        yield Forge(root, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
