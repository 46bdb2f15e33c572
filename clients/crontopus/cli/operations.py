"""Every GraphQL document the CLI sends; a test validates each against docs/schema.graphql.

Mutations select the whole errors-as-data union, so every failure reaches the user with the
server's message and, for validation errors, the field path.
"""

from __future__ import annotations

from typing import Final

USER_ERRORS: Final = """
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
    ... on RateLimitedError { retryAfterSeconds }
"""

AUTH_PAYLOAD: Final = """
    ... on AuthPayload {
      accessToken accessTokenExpiresAt refreshToken role
      user { username } tenant { slug name }
    }
"""

JOB_FIELDS: Final = """
    id name namespace path schedule timezone command args
    env { key value } secretEnv { key value } labels { key value } targetLabels { key value }
    enabled paused timeout graceTime concurrency isDiscovered blobId
    status scheduleDescription nextRunAt lastRun { id status startedAt }
"""

RUN_FIELDS: Final = """
    id jobId jobName namespace endpointId status exitCode startedAt finishedAt durationMs
    unknownJob commitId stuck
"""

LOGIN: Final = f"""
mutation Login($username: String!, $password: String!, $tenant: String) {{
  login(username: $username, password: $password, tenant: $tenant) {{
    __typename {AUTH_PAYLOAD} {USER_ERRORS}
  }}
}}
"""

REFRESH: Final = f"""
mutation Refresh($token: String!) {{
  refreshToken(token: $token) {{ __typename {AUTH_PAYLOAD} {USER_ERRORS} }}
}}
"""

LOGOUT: Final = f"""
mutation Logout($refreshToken: String!) {{
  logout(refreshToken: $refreshToken) {{ __typename ... on LogoutPayload {{ ok }} {USER_ERRORS} }}
}}
"""

ME: Final = """
query Me {
  me {
    role
    user { username email }
    tenant { slug name }
    tenants { role tenant { slug name } }
  }
}
"""

JOBS: Final = f"""
query Jobs($namespace: String, $labels: [KeyValueInput!], $search: String, $after: String,
           $first: Int!) {{
  jobs(namespace: $namespace, labels: $labels, search: $search, after: $after, first: $first) {{
    nodes {{ {JOB_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

JOB: Final = f"""
query Job($id: UUID!) {{ job(id: $id) {{ {JOB_FIELDS} yaml }} }}
"""

JOB_BY_NAME: Final = f"""
query JobByName($namespace: String!, $name: String!) {{
  jobByName(namespace: $namespace, name: $name) {{ {JOB_FIELDS} yaml }}
}}
"""

JOB_DETAILS: Final = f"""
query JobDetails($id: UUID!, $count: Int!) {{
  job(id: $id) {{ {JOB_FIELDS} yaml nextRuns(count: $count) checkinUrl }}
}}
"""

CREATE_JOB: Final = f"""
mutation CreateJob($input: JobInput!) {{
  createJob(input: $input) {{ __typename ... on Job {{ {JOB_FIELDS} }} {USER_ERRORS} }}
}}
"""

UPDATE_JOB: Final = f"""
mutation UpdateJob($id: UUID!, $expectedBlobId: String!, $input: JobInput!) {{
  updateJob(id: $id, expectedBlobId: $expectedBlobId, input: $input) {{
    __typename ... on Job {{ {JOB_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

CREATE_JOB_FROM_MANIFEST: Final = f"""
mutation CreateJobFromManifest($manifest: String!) {{
  createJob(manifest: $manifest) {{ __typename ... on Job {{ {JOB_FIELDS} }} {USER_ERRORS} }}
}}
"""

UPDATE_JOB_FROM_MANIFEST: Final = f"""
mutation UpdateJobFromManifest($id: UUID!, $expectedBlobId: String!, $manifest: String!) {{
  updateJob(id: $id, expectedBlobId: $expectedBlobId, manifest: $manifest) {{
    __typename ... on Job {{ {JOB_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

DELETE_JOB: Final = f"""
mutation DeleteJob($id: UUID!, $expectedBlobId: String!) {{
  deleteJob(id: $id, expectedBlobId: $expectedBlobId) {{
    __typename ... on DeleteJobPayload {{ job {{ id name namespace path }} }} {USER_ERRORS}
  }}
}}
"""

ADOPT_JOB: Final = f"""
mutation AdoptJob($id: UUID!, $targetNamespace: String!) {{
  adoptJob(id: $id, targetNamespace: $targetNamespace) {{
    __typename ... on Job {{ {JOB_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

JOB_HISTORY: Final = """
query JobHistory($id: UUID!, $first: Int!) {
  jobHistory(id: $id, first: $first) {
    commitId time authorName authorEmail message path yaml
  }
}
"""

RUNS: Final = f"""
query Runs($filter: RunFilter, $after: String, $first: Int!) {{
  runs(filter: $filter, after: $after, first: $first) {{
    nodes {{ {RUN_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

RUN: Final = f"""
query Run($id: UUID!) {{ run(id: $id) {{ {RUN_FIELDS} output outputTruncated }} }}
"""

RUN_EVENTS: Final = f"""
subscription RunEvents($filter: RunFilter) {{
  runEvents(filter: $filter) {{ kind run {{ {RUN_FIELDS} }} }}
}}
"""

NAMESPACES: Final = "query Namespaces { namespaces { name jobCount isSystem } }"

CREATE_NAMESPACE: Final = f"""
mutation CreateNamespace($name: String!) {{
  createNamespace(name: $name) {{
    __typename ... on Namespace {{ name jobCount isSystem }} {USER_ERRORS}
  }}
}}
"""

DELETE_NAMESPACE: Final = f"""
mutation DeleteNamespace($name: String!) {{
  deleteNamespace(name: $name) {{
    __typename ... on DeleteNamespacePayload {{ namespace {{ name jobCount isSystem }} }}
    {USER_ERRORS}
  }}
}}
"""

API_TOKEN_FIELDS: Final = "id name hint scopes createdAt expiresAt lastUsedAt revokedAt"

API_TOKENS: Final = f"query ApiTokens {{ apiTokens {{ {API_TOKEN_FIELDS} }} }}"

CREATE_API_TOKEN: Final = f"""
mutation CreateApiToken($name: String!, $scopes: [TokenScope!]!, $expiresInDays: Int) {{
  createApiToken(name: $name, scopes: $scopes, expiresInDays: $expiresInDays) {{
    __typename ... on CreatedApiToken {{ plaintext token {{ {API_TOKEN_FIELDS} }} }}
    {USER_ERRORS}
  }}
}}
"""

REVOKE_API_TOKEN: Final = f"""
mutation RevokeApiToken($id: UUID!) {{
  revokeApiToken(id: $id) {{ __typename ... on ApiToken {{ {API_TOKEN_FIELDS} }} {USER_ERRORS} }}
}}
"""

HEALTH_FIGURES: Final = "figures { health runs successes failures successRate lastRunAt }"

JOB_HEALTH: Final = f"""
query JobHealth($window: HealthWindow, $filter: JobHealthFilter) {{
  jobHealth(window: $window, filter: $filter) {{ jobId jobName namespace status {HEALTH_FIGURES} }}
}}
"""

ENDPOINT_HEALTH: Final = f"""
query EndpointHealth($window: HealthWindow) {{
  endpointHealth(window: $window) {{ endpointId name {HEALTH_FIGURES} }}
}}
"""

AUDIT_EVENTS: Final = """
query AuditEvents($filter: AuditFilter, $after: String, $first: Int!) {
  auditEvents(filter: $filter, after: $after, first: $first) {
    nodes { id createdAt actor action target details }
    pageInfo { hasNextPage endCursor }
  }
}
"""

RUN_JOB_NOW: Final = f"""
mutation RunJobNow($jobId: UUID!, $endpointIds: [UUID!]) {{
  runJobNow(jobId: $jobId, endpointIds: $endpointIds) {{
    __typename
    ... on RunJobNowPayload {{
      requestId job {{ id namespace name }} endpoints {{ id name }} offline {{ id name }}
    }}
    {USER_ERRORS}
  }}
}}
"""

# Fleet: endpoints and the enrollment tokens agents enroll with.

ENDPOINT_FIELDS: Final = """
    id name hostname platform machineId agentVersion driver drivers labels { key value }
    status enrolledAt lastSeenAt appliedCommit revokedAt
"""

ENDPOINTS: Final = f"""
query Endpoints($filter: EndpointFilter, $after: String, $first: Int!) {{
  endpoints(filter: $filter, after: $after, first: $first) {{
    nodes {{ {ENDPOINT_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

ENDPOINT: Final = f"""
query Endpoint($id: UUID!) {{
  endpoint(id: $id) {{
    {ENDPOINT_FIELDS}
    jobs {{
      jobId job {{ name namespace }} state driver source reportedAt drift driftReason failureReason
    }}
  }}
}}
"""

REVOKE_ENDPOINT: Final = f"""
mutation RevokeEndpoint($id: UUID!) {{
  revokeEndpoint(id: $id) {{ __typename ... on Endpoint {{ {ENDPOINT_FIELDS} }} {USER_ERRORS} }}
}}
"""

UPDATE_ENDPOINT: Final = f"""
mutation UpdateEndpoint($id: UUID!, $labels: [KeyValueInput!]) {{
  updateEndpoint(id: $id, labels: $labels) {{
    __typename ... on Endpoint {{ {ENDPOINT_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

JOB_ENDPOINTS: Final = """
query JobEndpoints($id: UUID!) {
  job(id: $id) {
    endpoints { endpoint { id name status } state drift driftReason failureReason reportedAt }
  }
}
"""

ENROLLMENT_TOKEN_FIELDS: Final = """
    id name hint createdBy createdAt expiresAt maxUses useCount lastUsedAt revokedAt
"""

ENROLLMENT_TOKENS: Final = f"""
query EnrollmentTokens {{ enrollmentTokens {{ {ENROLLMENT_TOKEN_FIELDS} }} }}
"""

CREATE_ENROLLMENT_TOKEN: Final = f"""
mutation CreateEnrollmentToken($name: String!, $expiresInDays: Int, $maxUses: Int) {{
  createEnrollmentToken(name: $name, expiresInDays: $expiresInDays, maxUses: $maxUses) {{
    __typename
    ... on CreatedEnrollmentToken {{ plaintext token {{ {ENROLLMENT_TOKEN_FIELDS} }} }}
    {USER_ERRORS}
  }}
}}
"""

REVOKE_ENROLLMENT_TOKEN: Final = f"""
mutation RevokeEnrollmentToken($id: UUID!) {{
  revokeEnrollmentToken(id: $id) {{
    __typename ... on EnrollmentToken {{ {ENROLLMENT_TOKEN_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

INCIDENT_FIELDS: Final = """
    id status rule title jobId jobName namespace endpointId openedAt acknowledgedAt
    acknowledgedBy resolvedAt resolvedBy details
"""

INCIDENTS: Final = f"""
query Incidents($filter: IncidentFilter, $after: String, $first: Int!) {{
  incidents(filter: $filter, after: $after, first: $first) {{
    nodes {{ {INCIDENT_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

ACKNOWLEDGE_INCIDENT: Final = f"""
mutation AcknowledgeIncident($id: UUID!) {{
  acknowledgeIncident(id: $id) {{
    __typename ... on Incident {{ {INCIDENT_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

RESOLVE_INCIDENT: Final = f"""
mutation ResolveIncident($id: UUID!) {{
  resolveIncident(id: $id) {{
    __typename ... on Incident {{ {INCIDENT_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

CHANNEL_FIELDS: Final = "id name kind config isDefault createdAt updatedAt"

CHANNELS: Final = f"query Channels {{ channels {{ {CHANNEL_FIELDS} }} }}"

CREATE_CHANNEL: Final = f"""
mutation CreateChannel($input: CreateChannelInput!) {{
  createChannel(input: $input) {{ __typename ... on Channel {{ {CHANNEL_FIELDS} }} {USER_ERRORS} }}
}}
"""

TEST_CHANNEL: Final = f"""
mutation TestChannel($id: UUID!) {{
  testChannel(id: $id) {{
    __typename
    ... on NotificationDelivery {{
      id event status attempts lastError channelId channelName channelKind createdAt deliveredAt
    }}
    {USER_ERRORS}
  }}
}}
"""

MEMBERSHIP_FIELDS: Final = "role createdAt user { id username email }"

MEMBERS: Final = f"query Members {{ members {{ {MEMBERSHIP_FIELDS} }} }}"

ADD_MEMBER: Final = f"""
mutation AddMember($username: String!, $role: Role!) {{
  addMember(username: $username, role: $role) {{
    __typename ... on Membership {{ {MEMBERSHIP_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

INVITATION_FIELDS: Final = "id email role invitedBy createdAt expiresAt"

INVITE_MEMBER: Final = f"""
mutation InviteMember($email: String!, $role: Role!) {{
  inviteMember(email: $email, role: $role) {{
    __typename
    ... on Membership {{ {MEMBERSHIP_FIELDS} }}
    ... on Invitation {{ {INVITATION_FIELDS} }}
    {USER_ERRORS}
  }}
}}
"""

INVITATIONS: Final = f"""
query Invitations {{
  invitations {{ {INVITATION_FIELDS} }}
}}
"""

REVOKE_INVITATION: Final = f"""
mutation RevokeInvitation($id: UUID!) {{
  revokeInvitation(id: $id) {{
    __typename ... on Invitation {{ {INVITATION_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

CHANGE_MEMBER_ROLE: Final = f"""
mutation ChangeMemberRole($userId: UUID!, $role: Role!) {{
  changeMemberRole(userId: $userId, role: $role) {{
    __typename ... on Membership {{ {MEMBERSHIP_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

REMOVE_MEMBER: Final = f"""
mutation RemoveMember($userId: UUID!) {{
  removeMember(userId: $userId) {{
    __typename ... on RemoveMemberPayload {{ user {{ id username email }} }} {USER_ERRORS}
  }}
}}
"""

SECRET_FIELDS: Final = "name createdAt updatedAt updatedBy"

SECRETS: Final = f"query Secrets {{ secrets {{ {SECRET_FIELDS} }} }}"

SET_SECRET: Final = f"""
mutation SetSecret($name: String!, $value: String!) {{
  setSecret(name: $name, value: $value) {{
    __typename ... on Secret {{ {SECRET_FIELDS} }}
    {USER_ERRORS}
  }}
}}
"""

DELETE_SECRET: Final = f"""
mutation DeleteSecret($name: String!) {{
  deleteSecret(name: $name) {{
    __typename ... on DeleteSecretPayload {{ secret {{ {SECRET_FIELDS} }} }}
    {USER_ERRORS}
  }}
}}
"""
