"""Crontopus agent."""
