// The platform operator's operations (docs/operations.md, "Platform operators").
import { graphql } from "../gql";

export const OperatorFlagQuery = graphql(`
  query OperatorFlag {
    me { operator }
  }
`);

export const OperatorTenantsQuery = graphql(`
  query OperatorTenants($search: String, $after: String) {
    tenants(search: $search, first: 50, after: $after) {
      nodes {
        id slug name createdAt suspended suspendedAt suspensionReason
        usage { members jobs endpointsOnline endpointsTotal runsStored storageBytes }
        quotas { name limit default overridden setting }
        lastExport { id createdAt sizeBytes downloadPath runs }
      }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const SuspendTenantMutation = graphql(`
  mutation SuspendTenant($id: UUID!, $reason: String) {
    suspendTenant(id: $id, reason: $reason) {
      __typename
      ... on OperatorTenant { id suspended }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const ResumeTenantMutation = graphql(`
  mutation ResumeTenant($id: UUID!) {
    resumeTenant(id: $id) {
      __typename
      ... on OperatorTenant { id suspended }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const SetTenantQuotasMutation = graphql(`
  mutation SetTenantQuotas($id: UUID!, $quotas: [QuotaOverrideInput!]!) {
    setTenantQuotas(id: $id, quotas: $quotas) {
      __typename
      ... on OperatorTenant { id quotas { name limit overridden } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const ExportTenantMutation = graphql(`
  mutation ExportTenant($id: UUID!) {
    exportTenant(id: $id) {
      __typename
      ... on TenantExport { id downloadPath sizeBytes runs }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteTenantMutation = graphql(`
  mutation DeleteTenant($id: UUID!) {
    deleteTenant(id: $id) {
      __typename
      ... on DeletedTenant { slug deletedUsers export { downloadPath } }
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const SystemHealthQuery = graphql(`
  query SystemHealth {
    systemHealth {
      checkedAt
      database { backend up latencyMs sizeBytes error }
      disk { totalBytes freeBytes dataBytes gitBytes exportsBytes }
      ingest { queueDepth queueLimit batches meanBatchSeconds lastBatchSeconds }
      alerts { inProcess lagSeconds pendingNotifications oldestDueSeconds }
      eventBus { kind connected subscribers }
      dependencies { name up reason since }
    }
  }
`);

export const OperatorAuditQuery = graphql(`
  query OperatorAudit($after: String) {
    operatorAuditEvents(first: 50, after: $after) {
      nodes { id action actor tenantSlug details createdAt }
      pageInfo { endCursor hasNextPage }
    }
  }
`);
