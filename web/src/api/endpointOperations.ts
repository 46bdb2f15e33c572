// Operations of the endpoints and enrollment pages.
import { graphql } from "../gql";

export const EndpointsQuery = graphql(`
  query Endpoints($filter: EndpointFilter, $after: String) {
    endpoints(filter: $filter, first: 100, after: $after) {
      nodes { id name hostname platform status driver appliedCommit lastSeenAt agentVersion }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const EndpointQuery = graphql(`
  query Endpoint($id: UUID!) {
    endpoint(id: $id) {
      id name hostname platform status driver drivers appliedCommit lastSeenAt agentVersion enrolledAt machineId
      labels { key value }
      jobs(first: 100) { jobId state drift driftReason failureReason reportedAt job { id name namespace } }
    }
  }
`);

export const RevokeEndpointMutation = graphql(`
  mutation RevokeEndpoint($id: UUID!) {
    revokeEndpoint(id: $id) { __typename ... on UserError { message } }
  }
`);

export const EnrollmentTokensQuery = graphql(`
  query EnrollmentTokens { enrollmentTokens { id name hint useCount maxUses expiresAt revokedAt createdAt } }
`);

export const CreateEnrollmentTokenMutation = graphql(`
  mutation CreateEnrollmentToken($name: String!, $maxUses: Int, $expiresInDays: Int) {
    createEnrollmentToken(name: $name, maxUses: $maxUses, expiresInDays: $expiresInDays) {
      __typename
      ... on CreatedEnrollmentToken { plaintext token { id name } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const RevokeEnrollmentTokenMutation = graphql(`
  mutation RevokeEnrollmentToken($id: UUID!) {
    revokeEnrollmentToken(id: $id) { __typename ... on UserError { message } }
  }
`);

export const JobEndpointsQuery = graphql(`
  query JobEndpoints($id: UUID!) {
    job(id: $id) {
      id
      endpoints(first: 100) { state drift driftReason failureReason reportedAt endpoint { id name status lastSeenAt } }
    }
    runs(filter: { jobId: $id }, first: 100) { nodes { ...RunFields } }
  }
`);

export const EndpointEventsSubscription = graphql(`
  subscription EndpointEvents {
    endpointEvents { endpointId kind name occurredAt }
  }
`);

export const PendingEnrollmentsQuery = graphql(`
  query PendingEnrollments {
    pendingEnrollments {
      id machineId name hostname platform agentVersion requestedFrom requestedAt enrollmentToken
      labels { key value }
      endpoint { id name status }
    }
  }
`);

export const ApproveEnrollmentMutation = graphql(`
  mutation ApproveEnrollment($id: UUID!) {
    approveEnrollment(id: $id) { __typename ... on UserError { message } }
  }
`);

export const RejectEnrollmentMutation = graphql(`
  mutation RejectEnrollment($id: UUID!) {
    rejectEnrollment(id: $id) { __typename ... on UserError { message } }
  }
`);

export const UpdateEndpointLabelsMutation = graphql(`
  mutation UpdateEndpointLabels($id: UUID!, $labels: [KeyValueInput!]!) {
    updateEndpoint(id: $id, labels: $labels) {
      __typename
      ... on Endpoint { id labels { key value } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);
