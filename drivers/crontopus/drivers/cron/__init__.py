"""The cron driver: manages the invoking user's crontab (or a crontab file)."""

from crontopus.drivers.cron.backend import CommandCrontab, CrontabBackend, FileCrontab
from crontopus.drivers.cron.driver import CronDriver

__all__ = ["CommandCrontab", "CronDriver", "CrontabBackend", "FileCrontab"]
