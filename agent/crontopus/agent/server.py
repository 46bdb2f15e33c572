"""The agent's GraphQL client: enrollment, heartbeat, reports and the repository URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from crontopus.agent.errors import ServerRefused, ServerUnreachable

ENROLL = """
mutation Enroll($enrollmentToken: String!, $name: String!, $hostname: String!,
                $platform: String!, $machineId: String!, $agentVersion: String!,
                $drivers: [String!]!, $labels: [KeyValueInput!]!) {
  enrollEndpoint(enrollmentToken: $enrollmentToken, name: $name, hostname: $hostname,
                 platform: $platform, machineId: $machineId, agentVersion: $agentVersion,
                 drivers: $drivers, labels: $labels) {
    __typename
    ... on EnrolledEndpoint { endpointToken endpoint { id } }
    ... on UserError { message }
  }
}
"""

HEARTBEAT = """
mutation Heartbeat($input: HeartbeatInput!) {
  heartbeat(input: $input) { id }
}
"""

REPOSITORY = "query Repository { repository { cloneUrl headCommit } }"

REPORT_INSTANCES = """
mutation ReportJobInstances($items: [JobInstanceInput!]!) {
  reportJobInstances(items: $items)
}
"""

REPORT_DISCOVERED = """
mutation ReportDiscoveredJobs($items: [DiscoveredJobInput!]!) {
  reportDiscoveredJobs(items: $items) { results { fingerprint outcome jobId } }
}
"""
DISCOVERED_BATCH = 500  # the server takes at most this many entries per report


@dataclass(frozen=True)
class Enrollment:
    """What enrollment gives the agent: its endpoint id and token (shown once)."""

    endpoint_id: str
    token: str


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
    ) -> Enrollment:
        """Enroll this machine with an enrollment token; return its endpoint token."""
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
            },
        )
        result = data["enrollEndpoint"]
        if result.get("__typename") != "EnrolledEndpoint":
            raise ServerRefused(f"enrollment refused: {result.get('message', result)}")
        return Enrollment(str(result["endpoint"]["id"]), str(result["endpointToken"]))

    def heartbeat(self, agent_version: str, driver: str | None, applied_commit: str | None) -> None:
        """Tell the server this endpoint is alive and what it has applied."""
        self.graphql(
            HEARTBEAT,
            {
                "input": {
                    "agentVersion": agent_version,
                    "driver": driver,
                    "appliedCommit": applied_commit,
                }
            },
        )

    def repository(self) -> RepositoryInfo:
        """Return the clone URL and head commit of the tenant's job repository."""
        data = self.graphql(REPOSITORY)["repository"]
        return RepositoryInfo(str(data["cloneUrl"]), data.get("headCommit"))

    def report_job_instances(self, items: Sequence[Mapping[str, str]]) -> None:
        """Report what the scheduler holds for each managed job."""
        self.graphql(REPORT_INSTANCES, {"items": [dict(item) for item in items]})

    def report_discovered_jobs(self, items: Sequence[Mapping[str, str]]) -> dict[str, str]:
        """Report the scheduler entries Crontopus did not create; return fingerprint -> job id."""
        job_ids: dict[str, str] = {}
        for start in range(0, len(items), DISCOVERED_BATCH):
            batch = [dict(item) for item in items[start : start + DISCOVERED_BATCH]]
            data = self.graphql(REPORT_DISCOVERED, {"items": batch})
            for result in data["reportDiscoveredJobs"]["results"]:
                if result.get("jobId"):
                    job_ids[str(result["fingerprint"])] = str(result["jobId"])
        return job_ids
