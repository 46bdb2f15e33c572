"""The agent's GraphQL client: enrollment, heartbeat, reports and the repository URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from crontopus.agent.checkin import plain_http_refusal
from crontopus.agent.errors import ServerRefused, ServerUnreachable

ENROLL = """
mutation Enroll($enrollmentToken: String!, $name: String!, $hostname: String!,
                $platform: String!, $machineId: String!, $agentVersion: String!,
                $drivers: [String!]!, $labels: [KeyValueInput!]!, $endpointToken: String) {
  enrollEndpoint(enrollmentToken: $enrollmentToken, name: $name, hostname: $hostname,
                 platform: $platform, machineId: $machineId, agentVersion: $agentVersion,
                 drivers: $drivers, labels: $labels, endpointToken: $endpointToken) {
    __typename
    ... on EnrolledEndpoint { endpointToken heartbeatIntervalSeconds endpoint { id } }
    ... on EnrollmentPending { id endpointToken message }
    ... on UserError { message }
  }
}
"""

HEARTBEAT = """
mutation Heartbeat($input: HeartbeatInput!) {
  heartbeat(input: $input) {
    __typename
    ... on Endpoint { id labels { key value } }
    ... on UserError { message }
  }
}
"""

UNENROLL = """
mutation UnenrollEndpoint {
  unenrollEndpoint {
    __typename
    ... on Endpoint { id }
    ... on UserError { message }
  }
}
"""

REPOSITORY = "query Repository { repository { cloneUrl headCommit } }"

REPORT_INSTANCES = """
mutation ReportJobInstances($items: [JobInstanceInput!]!) {
  reportJobInstances(items: $items) {
    __typename
    ... on JobInstanceReport { total }
    ... on UserError { message }
  }
}
"""

REPORT_DISCOVERED = """
mutation ReportDiscoveredJobs($items: [DiscoveredJobInput!]!) {
  reportDiscoveredJobs(items: $items) {
    __typename
    ... on DiscoveredJobsReport { results { fingerprint outcome jobId message } }
    ... on UserError { message }
  }
}
"""
DISCOVERED_BATCH = 500  # the server takes at most this many entries per report


@dataclass(frozen=True)
class Enrollment:
    """What enrollment gives the agent: its endpoint id and token (shown once).

    `pending` (the server's message) says the machine was enrolled before and gave no proof:
    the token works once an admin approves, and the endpoint id is not told until then.
    """

    endpoint_id: str | None
    token: str
    heartbeat_interval: int | None = None
    pending: str | None = None


@dataclass(frozen=True)
class RepositoryInfo:
    """Where the tenant's job repository is, and its current head."""

    clone_url: str
    head_commit: str | None


class ServerClient:
    """Calls the server's GraphQL API as this endpoint."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        user_agent: str = "crontopus-agent",
    ) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        headers = {"User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one operation; return `data` or raise ServerUnreachable / ServerRefused."""
        # Every operation carries a credential (endpoint or enrollment token).
        try:
            refusal = plain_http_refusal(self.server, self.timeout)
        except (OSError, ValueError) as exc:
            raise ServerUnreachable(f"{self.server}: {type(exc).__name__}: {exc}") from exc
        if refusal is not None:
            raise ServerRefused(refusal)
        try:
            response = self.http.post(
                "/graphql", json={"query": query, "variables": dict(variables or {})}
            )
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"{self.server}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise ServerUnreachable(f"{self.server}/graphql: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ServerRefused(
                f"{self.server}/graphql: HTTP {response.status_code}: {response.text[:200]}"
            ) from None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            messages = "; ".join(str(error.get("message", error)) for error in errors)
            raise ServerRefused(f"{self.server}/graphql: {messages}")
        if response.status_code >= 400 or not isinstance(body.get("data"), dict):
            raise ServerRefused(f"{self.server}/graphql: HTTP {response.status_code}")
        data: dict[str, Any] = body["data"]
        return data

    def enroll(
        self,
        enrollment_token: str,
        *,
        name: str,
        hostname: str,
        platform: str,
        machine_id: str,
        agent_version: str,
        drivers: Sequence[str],
        labels: Mapping[str, str],
        current_token: str | None = None,
    ) -> Enrollment:
        """Enroll this machine with an enrollment token; return its endpoint token.

        `current_token` (the endpoint token the machine holds) proves a re-enrollment is this
        machine's own; without it, a known machine id waits for an admin's approval.
        """
        data = self.graphql(
            ENROLL,
            {
                "enrollmentToken": enrollment_token,
                "name": name,
                "hostname": hostname,
                "platform": platform,
                "machineId": machine_id,
                "agentVersion": agent_version,
                "drivers": list(drivers),
                "labels": [{"key": key, "value": value} for key, value in labels.items()],
                "endpointToken": current_token,
            },
        )
        pending = data.get("enrollEndpoint")
        if isinstance(pending, dict) and pending.get("__typename") == "EnrollmentPending":
            return Enrollment(None, str(pending["endpointToken"]), pending=str(pending["message"]))
        result = _payload(data, "enrollEndpoint", "EnrolledEndpoint", "enrollment")
        return Enrollment(
            str(result["endpoint"]["id"]),
            str(result["endpointToken"]),
            result.get("heartbeatIntervalSeconds"),
        )

    def heartbeat(
        self, agent_version: str, driver: str | None, applied_commit: str | None
    ) -> dict[str, str]:
        """Tell the server this endpoint is alive and what it applied; return its labels."""
        data = self.graphql(
            HEARTBEAT,
            {
                "input": {
                    "agentVersion": agent_version,
                    "driver": driver,
                    "appliedCommit": applied_commit,
                }
            },
        )
        endpoint = _payload(data, "heartbeat", "Endpoint", "heartbeat")
        return {str(item["key"]): str(item["value"]) for item in endpoint.get("labels") or []}

    def unenroll(self) -> None:
        """Revoke this endpoint: the server shows it as revoked and refuses its token."""
        _payload(self.graphql(UNENROLL), "unenrollEndpoint", "Endpoint", "unenrollment")

    def repository(self) -> RepositoryInfo:
        """Return the clone URL and head commit of the tenant's job repository."""
        data = self.graphql(REPOSITORY)["repository"]
        return RepositoryInfo(str(data["cloneUrl"]), data.get("headCommit"))

    def report_job_instances(self, items: Sequence[Mapping[str, str]]) -> None:
        """Report what the scheduler holds for each job (replacing the previous report)."""
        data = self.graphql(REPORT_INSTANCES, {"items": [dict(item) for item in items]})
        _payload(data, "reportJobInstances", "JobInstanceReport", "job instance report")

    def report_discovered_jobs(self, items: Sequence[Mapping[str, str]]) -> dict[str, str]:
        """Report the scheduler entries Crontopus did not create; return fingerprint -> job id."""
        job_ids: dict[str, str] = {}
        for start in range(0, len(items), DISCOVERED_BATCH):
            batch = [dict(item) for item in items[start : start + DISCOVERED_BATCH]]
            data = self.graphql(REPORT_DISCOVERED, {"items": batch})
            report = _payload(data, "reportDiscoveredJobs", "DiscoveredJobsReport", "discovery")
            for result in report["results"]:
                if result.get("jobId"):
                    job_ids[str(result["fingerprint"])] = str(result["jobId"])
        return job_ids


def _payload(data: Mapping[str, Any], field: str, expected: str, what: str) -> dict[str, Any]:
    """Return a union result of the expected type, or raise with the server's message."""
    result = data.get(field)
    if not isinstance(result, dict):
        raise ServerRefused(f"{what}: the server answered no {field}")
    if result.get("__typename") != expected:
        message = result.get("message") or result.get("__typename")
        raise ServerRefused(f"{what} refused: {message}")
    return result
