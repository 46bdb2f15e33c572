"""GraphQL: platform administration, for the server's operators."""
