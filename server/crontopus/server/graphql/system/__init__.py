"""GraphQL: server-level fields."""
