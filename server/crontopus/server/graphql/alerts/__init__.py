"""GraphQL: incidents, notification channels, deliveries, snoozes, maintenance windows."""
