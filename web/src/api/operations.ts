// Every operation the console sends; `npm run codegen` types them from docs/schema.graphql
// and `npm run check:operations` fails when one no longer validates against it.
import { graphql } from "../gql";


export const LoginMutation = graphql(`
  mutation Login($username: String!, $password: String!, $tenant: String) {
    login(username: $username, password: $password, tenant: $tenant, useCookie: true) {
      __typename
      ... on AuthPayload { accessToken accessTokenExpiresAt role tenant { slug name } user { username } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const RegisterMutation = graphql(`
  mutation Register($username: String!, $email: String!, $password: String!) {
    register(username: $username, email: $email, password: $password, useCookie: true) {
      __typename
      ... on AuthPayload { accessToken accessTokenExpiresAt role tenant { slug name } user { username } }
      ... on VerificationPending { message }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const IdentityProvidersQuery = graphql(`
  query IdentityProviders {
    identityProviders { name label startUrl }
  }
`);

export const TenantSsoQuery = graphql(`
  query TenantSso {
    me { tenant { id ssoProvider } }
    identityProviders { name label startUrl }
  }
`);

export const SetTenantSsoOnlyMutation = graphql(`
  mutation SetTenantSsoOnly($provider: String) {
    setTenantSsoOnly(provider: $provider) {
      __typename
      ... on Tenant { id ssoProvider }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation Logout {
    logout { __typename ... on UserError { message } }
  }
`);

export const SessionsQuery = graphql(`
  query Sessions {
    sessions { id userAgent address createdAt lastUsedAt current tenant { slug name } }
  }
`);

export const RevokeSessionMutation = graphql(`
  mutation RevokeSession($id: UUID!) {
    revokeSession(id: $id) { __typename ... on UserError { message } }
  }
`);

export const SignOutEverywhereMutation = graphql(`
  mutation SignOutEverywhere {
    signOutEverywhere { __typename ... on EndedSessions { count } ... on UserError { message } }
  }
`);

export const ChangePasswordMutation = graphql(`
  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
    changePassword(currentPassword: $currentPassword, newPassword: $newPassword) {
      __typename
      ... on PasswordChanged { endedSessions }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const MeQuery = graphql(`
  query Me {
    me {
      role
      user { id username email }
      tenant { id slug name }
      tenants { role tenant { slug name } }
    }
  }
`);

export const RunFields = graphql(`
  fragment RunFields on Run {
    id jobId jobName namespace endpointId status startedAt finishedAt durationMs exitCode unknownJob stuck trigger
  }
`);

export const DashboardQuery = graphql(`
  query Dashboard($window: HealthWindow) {
    dashboard(window: $window) {
      endpointsOnline endpointsOffline endpointsTotal jobsTotal
      figures { runs failures successes successRate health }
      failingJobs { jobId jobName namespace figures { runs failures health lastRunAt } }
      needsAttention { id name namespace status scheduleDescription lastRun { id status startedAt } }
    }
  }
`);

export const RunsQuery = graphql(`
  query Runs($filter: RunFilter, $after: String, $first: Int!) {
    runs(filter: $filter, after: $after, first: $first) {
      nodes { ...RunFields }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const RunQuery = graphql(`
  query Run($id: UUID!) {
    run(id: $id) { ...RunFields commitId output outputTruncated }
  }
`);

export const RunEventsSubscription = graphql(`
  subscription RunEvents($filter: RunFilter) {
    runEvents(filter: $filter) { kind run { ...RunFields } }
  }
`);

export const HealthQuery = graphql(`
  query Health($window: HealthWindow) {
    jobHealth(window: $window) { jobId jobName namespace status figures { runs failures successes successRate health lastRunAt } }
    endpointHealth(window: $window) { endpointId name figures { runs failures successes successRate health lastRunAt } }
  }
`);

export const JobListFields = graphql(`
  fragment JobListFields on Job {
    id name namespace schedule timezone command enabled paused isDiscovered path
    labels { key value }
    status scheduleDescription nextRunAt lastRun { id status startedAt }
  }
`);

export const JobsQuery = graphql(`
  query Jobs($namespace: String, $search: String, $labels: [KeyValueInput!], $after: String) {
    jobs(namespace: $namespace, search: $search, labels: $labels, after: $after, first: 100) {
      nodes { ...JobListFields }
      pageInfo { endCursor hasNextPage }
    }
    namespaces { name isSystem jobCount }
  }
`);

export const JobFields = graphql(`
  fragment JobFields on Job {
    ...JobListFields
    blobId args env { key value } secretEnv { key value } targetLabels { key value } timeout graceTime concurrency yaml
    alerts {
      onFailure consecutiveFailures failureRate { percent window minRuns } missedRun
      maxDuration minDuration channels
    }
    systemd { acceptDstDifferences }
    taskScheduler { acceptDstDifferences }
  }
`);

export const JobQuery = graphql(`
  query Job($id: UUID!) {
    job(id: $id) { ...JobFields nextRuns(count: 5) checkinUrl }
    jobHistory(id: $id, first: 20) { commitId message authorName authorEmail time path yaml }
    runs(filter: { jobId: $id }, first: 10) { nodes { ...RunFields } }
  }
`);

export const ValidateManifestQuery = graphql(`
  query ValidateManifest($yaml: String!) {
    validateManifest(yaml: $yaml) { valid problems { file path message } warnings { path message } job { ...JobFields } }
  }
`);

export const SchedulePreviewQuery = graphql(`
  query SchedulePreview($schedule: String!, $timezone: String!) {
    schedulePreview(schedule: $schedule, timezone: $timezone, count: 5) {
      __typename
      ... on SchedulePreview { expression nextRuns timezone }
      ... on ValidationError { message fields { path message } }
    }
  }
`);

export const CreateJobMutation = graphql(`
  mutation CreateJob($input: JobInput!, $message: String) {
    createJob(input: $input, message: $message) {
      __typename
      ... on Job { ...JobFields }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const UpdateJobMutation = graphql(`
  mutation UpdateJob($id: UUID!, $expectedBlobId: String!, $input: JobInput!, $message: String) {
    updateJob(id: $id, expectedBlobId: $expectedBlobId, input: $input, message: $message) {
      __typename
      ... on Job { ...JobFields }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const CreateJobFromManifestMutation = graphql(`
  mutation CreateJobFromManifest($manifest: String!, $message: String) {
    createJob(manifest: $manifest, message: $message) {
      __typename
      ... on Job { ...JobFields }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const UpdateJobFromManifestMutation = graphql(`
  mutation UpdateJobFromManifest($id: UUID!, $expectedBlobId: String!, $manifest: String!, $message: String) {
    updateJob(id: $id, expectedBlobId: $expectedBlobId, manifest: $manifest, message: $message) {
      __typename
      ... on Job { ...JobFields }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteJobMutation = graphql(`
  mutation DeleteJob($id: UUID!, $expectedBlobId: String!) {
    deleteJob(id: $id, expectedBlobId: $expectedBlobId) {
      __typename
      ... on UserError { message }
    }
  }
`);

export const RunJobNowMutation = graphql(`
  mutation RunJobNow($jobId: UUID!) {
    runJobNow(jobId: $jobId) {
      __typename
      ... on RunJobNowPayload { requestId endpoints { name } offline { name } }
      ... on UserError { message }
    }
  }
`);

export const AdoptJobMutation = graphql(`
  mutation AdoptJob($id: UUID!, $targetNamespace: String!) {
    adoptJob(id: $id, targetNamespace: $targetNamespace) {
      __typename
      ... on Job { id }
      ... on UserError { message }
    }
  }
`);

/** Job names for pickers and autocompletion: the server's search matches part of a name. */
export const JobNamesQuery = graphql(`
  query JobNames($search: String) {
    jobs(search: $search, first: 20) { nodes { id name namespace } }
  }
`);

export const NamespacesQuery = graphql(`
  query Namespaces { namespaces { name isSystem jobCount } }
`);

export const CreateNamespaceMutation = graphql(`
  mutation CreateNamespace($name: String!) {
    createNamespace(name: $name) {
      __typename
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteNamespaceMutation = graphql(`
  mutation DeleteNamespace($name: String!) {
    deleteNamespace(name: $name) { __typename ... on UserError { message } }
  }
`);

export const ApiTokensQuery = graphql(`
  query ApiTokens { apiTokens { id name hint scopes createdAt expiresAt lastUsedAt revokedAt } }
`);

export const CreateApiTokenMutation = graphql(`
  mutation CreateApiToken($name: String!, $scopes: [TokenScope!]!, $expiresInDays: Int) {
    createApiToken(name: $name, scopes: $scopes, expiresInDays: $expiresInDays) {
      __typename
      ... on CreatedApiToken { plaintext token { id name } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const RevokeApiTokenMutation = graphql(`
  mutation RevokeApiToken($id: UUID!) {
    revokeApiToken(id: $id) { __typename ... on UserError { message } }
  }
`);

export const MembersQuery = graphql(`
  query Members { members { role createdAt user { id username email } } }
`);

export const AddMemberMutation = graphql(`
  mutation AddMember($username: String!, $role: Role!) {
    addMember(username: $username, role: $role) { __typename ... on UserError { message } }
  }
`);

export const RemoveMemberMutation = graphql(`
  mutation RemoveMember($userId: UUID!) {
    removeMember(userId: $userId) { __typename ... on UserError { message } }
  }
`);

export const AuditQuery = graphql(`
  query Audit($filter: AuditFilter, $after: String) {
    auditEvents(filter: $filter, first: 50, after: $after) {
      nodes { id action actor actorName target details createdAt }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const RepositoryQuery = graphql(`
  query Repository { repository { cloneUrl headCommit } }
`);

export const RepositoryProblemsQuery = graphql(`
  query RepositoryProblems {
    repositoryProblems { file path message }
    repository { headCommit pendingCommit }
  }
`);

export const SecretsQuery = graphql(`
  query Secrets { secrets { name createdAt updatedAt updatedBy } }
`);

export const SetSecretMutation = graphql(`
  mutation SetSecret($name: String!, $value: String!) {
    setSecret(name: $name, value: $value) {
      __typename
      ... on Secret { name }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteSecretMutation = graphql(`
  mutation DeleteSecret($name: String!) {
    deleteSecret(name: $name) { __typename ... on UserError { message } }
  }
`);

export const HealthSeriesQuery = graphql(`
  query HealthSeries($jobId: UUID, $endpointId: UUID, $tenant: Boolean! = false, $window: HealthWindow, $bucket: HealthBucket) {
    healthSeries(jobId: $jobId, endpointId: $endpointId, tenant: $tenant, window: $window, bucket: $bucket) {
      bucket start
      points { at runs successes failures successRate durationP50Ms durationP95Ms }
    }
  }
`);

export const HealthSparklinesQuery = graphql(`
  query HealthSparklines($jobIds: [UUID!], $endpointIds: [UUID!], $window: HealthWindow) {
    healthSparklines(jobIds: $jobIds, endpointIds: $endpointIds, window: $window) {
      id points { at runs failures successRate }
    }
  }
`);

export const PaletteSearchQuery = graphql(`
  query PaletteSearch($search: String!, $first: Int!) {
    jobs(search: $search, first: $first) { nodes { id name namespace } }
    endpoints(filter: { search: $search }, first: $first) { nodes { id name hostname } }
  }
`);

export const NamespacesPageQuery = graphql(`
  query NamespacesPage($search: String, $after: String) {
    namespacesPage(search: $search, first: 100, after: $after) {
      nodes { name isSystem jobCount }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const ApiTokensPageQuery = graphql(`
  query ApiTokensPage($search: String, $after: String) {
    apiTokensPage(search: $search, first: 100, after: $after) {
      nodes { id name hint scopes createdAt expiresAt lastUsedAt revokedAt }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const MembersPageQuery = graphql(`
  query MembersPage($search: String, $role: Role, $after: String) {
    membersPage(search: $search, role: $role, first: 100, after: $after) {
      nodes { role createdAt user { id username email } }
      pageInfo { endCursor hasNextPage }
    }
  }
`);
