"""Storing runs: the ingest writer's run stores (SQLite and SQLAlchemy sessions) and their SQL."""
