// Operations of the alerts page: incidents, snoozes, maintenance windows, channels, deliveries.
import { graphql } from "../gql";

export const IncidentsQuery = graphql(`
  query Incidents($filter: IncidentFilter, $after: String) {
    incidents(filter: $filter, after: $after, first: 50) {
      nodes { id title rule status jobId jobName namespace endpointId openedAt acknowledgedAt acknowledgedBy resolvedAt resolvedBy }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const IncidentEventsSubscription = graphql(`
  subscription IncidentEvents { incidentEvents { kind incident { id status } } }
`);

export const AcknowledgeIncidentMutation = graphql(`
  mutation AcknowledgeIncident($id: UUID!) {
    acknowledgeIncident(id: $id) { __typename ... on UserError { message } }
  }
`);

export const ResolveIncidentMutation = graphql(`
  mutation ResolveIncident($id: UUID!) {
    resolveIncident(id: $id) { __typename ... on UserError { message } }
  }
`);

export const QuietQuery = graphql(`
  query Quiet {
    snoozes { id jobId jobName namespace reason until createdBy }
    maintenanceWindows { id name jobId jobName namespace schedule duration startsAt endsAt timezone releaseHeld createdBy }
  }
`);

export const CreateSnoozeMutation = graphql(`
  mutation CreateSnooze($input: CreateSnoozeInput!) {
    createSnooze(input: $input) {
      __typename
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteSnoozeMutation = graphql(`
  mutation DeleteSnooze($id: UUID!) { deleteSnooze(id: $id) { __typename ... on UserError { message } } }
`);

export const CreateMaintenanceWindowMutation = graphql(`
  mutation CreateMaintenanceWindow($input: CreateMaintenanceWindowInput!) {
    createMaintenanceWindow(input: $input) {
      __typename
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteMaintenanceWindowMutation = graphql(`
  mutation DeleteMaintenanceWindow($id: UUID!) {
    deleteMaintenanceWindow(id: $id) { __typename ... on UserError { message } }
  }
`);

export const ChannelsQuery = graphql(`
  query Channels {
    channels { id name kind isDefault config updatedAt }
  }
`);

export const DeliveriesQuery = graphql(`
  query Deliveries($status: DeliveryStatus, $after: String) {
    notificationDeliveries(status: $status, first: 50, after: $after) {
      nodes { id channelName channelKind event status attempts lastError createdAt deliveredAt }
      pageInfo { endCursor hasNextPage }
    }
  }
`);

export const CreateChannelMutation = graphql(`
  mutation CreateChannel($input: CreateChannelInput!) {
    createChannel(input: $input) {
      __typename
      ... on UserError { message }
      ... on ValidationError { fields { path message } }
    }
  }
`);

export const DeleteChannelMutation = graphql(`
  mutation DeleteChannel($id: UUID!) { deleteChannel(id: $id) { __typename ... on UserError { message } } }
`);

export const TestChannelMutation = graphql(`
  mutation TestChannel($id: UUID!) {
    testChannel(id: $id) {
      __typename
      ... on NotificationDelivery { status lastError }
      ... on UserError { message }
    }
  }
`);
