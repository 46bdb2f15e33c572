"""The secret store over GraphQL: names for people, values for the agent running a job."""
