"""Secret values for one run: asked of the server just before the command starts, kept in memory.

The wrapper calls `fetch_job_secrets` only for a job whose manifest references secrets. The
values go into the command's environment and nowhere else: not into job config files, the
spool, the log or any message (errors name secrets, never values), and `mask` takes them out of
the output sent with the check-in. Standard library only, like the rest of the wrapper.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from crontopus.agent.checkin import USER_AGENT, plain_http_refusal

JOB_SECRETS = """
query JobSecrets($jobId: UUID!) {
  jobSecrets(jobId: $jobId) {
    __typename
    ... on JobSecrets { items { variable value } }
    ... on UserError { message }
  }
}
"""
#: The shortest value masked in output: shorter ones would blank out ordinary text.
MASK_MIN_LENGTH = 4
MASK = "***"
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class SecretsUnavailable(Exception):
    """The run cannot have its secrets; the message says why (and never holds a value)."""


def fetch_job_secrets(server: str, token: str, job_id: str, timeout: float) -> dict[str, str]:
    """Return the job's secret variables and their values, or raise SecretsUnavailable."""
    try:
        refusal = plain_http_refusal(server, timeout)
    except (OSError, ValueError) as exc:
        raise SecretsUnavailable(f"the server {server} is unreachable ({exc})") from None
    if refusal is not None:
        raise SecretsUnavailable(refusal)
    body = json.dumps({"query": JOB_SECRETS, "variables": {"jobId": job_id}}).encode()
    try:
        status, answer = _post(server, body, token, timeout)
    except (OSError, ValueError) as exc:
        raise SecretsUnavailable(f"the server {server} is unreachable ({exc})") from None
    try:
        document: Any = json.loads(answer)
    except ValueError:
        raise SecretsUnavailable(f"the server answered HTTP {status} without JSON") from None
    if not isinstance(document, dict):
        raise SecretsUnavailable(f"the server answered HTTP {status} without a result")
    errors = document.get("errors")
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        raise SecretsUnavailable(f"the server refused: {messages or status}")
    result = (document.get("data") or {}).get("jobSecrets")
    if not isinstance(result, dict):
        raise SecretsUnavailable(f"the server answered HTTP {status} without jobSecrets")
    if result.get("__typename") != "JobSecrets":
        raise SecretsUnavailable(str(result.get("message") or result.get("__typename")))
    return {str(item["variable"]): str(item["value"]) for item in result.get("items") or []}


def mask(output: str, values: Mapping[str, str]) -> str:
    """Replace every secret value (of at least MASK_MIN_LENGTH characters) in `output`."""
    for value in sorted(set(values.values()), key=len, reverse=True):
        if len(value) >= MASK_MIN_LENGTH:
            output = output.replace(value, MASK)
    return output


def _post(server: str, body: bytes, token: str, timeout: float) -> tuple[int, bytes]:
    """POST the query to /graphql with http.client (chunked answers and TLS included)."""
    import http.client

    parts = urlsplit(server)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    else:
        raise ValueError(f"{server} is not an http(s) URL")
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        connection.request("POST", parts.path.rstrip("/") + "/graphql", body, headers)
        response = connection.getresponse()
        if response.status >= 500 or response.status in (408, 429):
            raise OSError(f"HTTP {response.status}")
        return response.status, response.read(MAX_ANSWER_BYTES)
    except http.client.HTTPException as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
