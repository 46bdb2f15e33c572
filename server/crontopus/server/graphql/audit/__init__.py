"""GraphQL: audit."""
