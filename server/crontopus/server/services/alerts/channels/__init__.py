"""Notification channels: one module per kind, each a `send(config, message, client)`."""
