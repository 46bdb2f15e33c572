"""The GraphQL API: one package per domain, composed in `schema.py`."""
