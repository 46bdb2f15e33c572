"""Alerting as users manage it: channels, snoozes, maintenance windows, defaults, incident logs.

Called by the API on behalf of a principal; the engine (`alerts.engine`) does the judging.
"""
