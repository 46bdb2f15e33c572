"""Crontopus server."""
