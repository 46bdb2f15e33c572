"""The systemd timers driver: exact OnCalendar= conversion, units, and the driver."""
