"""Alerting: rules from the manifest, incidents, notification channels and the workers."""
