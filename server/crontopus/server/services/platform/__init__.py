"""Platform administration: what the server's operators do across tenants."""
