"""GraphQL: schedule previews."""
