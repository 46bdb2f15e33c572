"""Crontopus core: what the server, the agent, the drivers and the CLI must agree on.

- ``manifest``: the job manifest, its validator and its canonical YAML form
- ``schedule``: cron schedules with exact Debian/cronie semantics, fire times, time zones
- ``namespaces``: namespace names, the protected and the reserved ones
- ``enums``: shared states (run, endpoint, health) and choices (concurrency, job source)
- ``errors``: the exceptions, drawn as a tree

See docs/job-manifest-spec.md and docs/scheduling.md.
"""
