"""GraphQL: enrollment, endpoints, job instances and discovery."""
