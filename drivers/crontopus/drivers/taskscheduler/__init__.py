"""The Windows Task Scheduler driver: exact cron to trigger conversion, task XML, schtasks."""
