"""Business rules, shared by GraphQL resolvers, HTTP routes and workers."""
