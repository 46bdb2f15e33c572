"""Crontopus drivers."""
