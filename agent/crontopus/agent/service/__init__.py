"""Installing the agent daemon as a service: systemd, launchd and Windows Task Scheduler."""
