"""GraphQL: runs and check-ins."""
