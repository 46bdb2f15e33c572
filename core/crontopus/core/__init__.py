"""Crontopus core."""
