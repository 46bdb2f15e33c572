"""The alerting engine: judging runs and time, opening and resolving incidents, notifying.

It runs in the API processes or in `crontopus-server worker`; nothing here answers a user.
"""
