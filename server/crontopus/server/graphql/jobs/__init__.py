"""GraphQL: jobs, namespaces and the repository."""
