"""The Windows start-up task of the agent daemon, restarted by Task Scheduler when it fails.

A scheduled task rather than a Windows service: a service needs a host process that speaks the
service control protocol, which a console program such as `crontopus-agent run` does not.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import PureWindowsPath

from crontopus.agent.service.definition import WINDOWS_TASK, ServiceFile, ServiceSpec
from crontopus.drivers.taskscheduler.xml import (
    NAMESPACE,
    SCHEMA_VERSION,
    encode_task,
    quote_argument,
)

TASK_FILE = "agent-task.xml"
SYSTEM_ACCOUNT = "S-1-5-18"  # LocalSystem, as a SID so the name's language does not matter
RESTART_INTERVAL = "PT1M"  # the shortest interval Task Scheduler accepts
RESTART_COUNT = "999"  # the largest it accepts: keep restarting, as systemd and launchd do


def task_file(spec: ServiceSpec) -> PureWindowsPath:
    """Return where the task XML is kept (schtasks reads it from a file)."""
    return PureWindowsPath(str(spec.state_dir)) / TASK_FILE


def log_file(spec: ServiceSpec) -> PureWindowsPath:
    """Return the daemon's log file."""
    return PureWindowsPath(str(spec.state_dir)) / "agent.log"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def render_task(spec: ServiceSpec) -> str:
    """Render the task XML text (declared UTF-16, as schtasks wants it)."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element("Task", {"version": SCHEMA_VERSION, "xmlns": NAMESPACE})
    info = _sub(root, "RegistrationInfo")
    _sub(info, "Author", "Crontopus")
    _sub(info, "Description", "The Crontopus agent: heartbeat, sync and check-in delivery.")
    _sub(info, "URI", WINDOWS_TASK)
    boot = _sub(_sub(root, "Triggers"), "BootTrigger")
    _sub(boot, "Enabled", "true")
    principal = _sub(_sub(root, "Principals"), "Principal")
    principal.set("id", "Author")
    if spec.user:
        _sub(principal, "LogonType", "S4U")
    else:
        _sub(principal, "UserId", SYSTEM_ACCOUNT)
    _sub(principal, "RunLevel", "LeastPrivilege" if spec.user else "HighestAvailable")
    settings = _sub(root, "Settings")
    _sub(settings, "MultipleInstancesPolicy", "IgnoreNew")
    _sub(settings, "DisallowStartIfOnBatteries", "false")
    _sub(settings, "StopIfGoingOnBatteries", "false")
    _sub(settings, "AllowHardTerminate", "true")
    _sub(settings, "StartWhenAvailable", "true")
    _sub(settings, "RunOnlyIfNetworkAvailable", "false")
    _sub(settings, "AllowStartOnDemand", "true")
    _sub(settings, "Enabled", "true")
    _sub(settings, "Hidden", "false")
    _sub(settings, "RunOnlyIfIdle", "false")
    _sub(settings, "WakeToRun", "false")
    _sub(settings, "ExecutionTimeLimit", "PT0S")  # a daemon: never stopped for running long
    _sub(settings, "Priority", "7")
    restart = _sub(settings, "RestartOnFailure")
    _sub(restart, "Interval", RESTART_INTERVAL)
    _sub(restart, "Count", RESTART_COUNT)
    actions = _sub(root, "Actions")
    actions.set("Context", "Author")
    execute = _sub(actions, "Exec")
    # Task Scheduler keeps no output: the daemon writes its own, rotated, log.
    program, *arguments = spec.arguments()
    arguments += ["--log-file", str(log_file(spec))]
    _sub(execute, "Command", program)
    _sub(execute, "Arguments", " ".join(quote_argument(a) for a in arguments))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(root, "unicode") + "\n"


def files(spec: ServiceSpec) -> list[ServiceFile]:
    """Return the files the task needs."""
    return [ServiceFile(task_file(spec), encode_task(render_task(spec)), 0o600)]


def commands(spec: ServiceSpec, action: str) -> list[list[str]]:
    """Return the schtasks command lines of an action."""
    return {
        "register": [
            ["schtasks", "/Create", "/TN", WINDOWS_TASK, "/XML", str(task_file(spec)), "/F"]
        ],
        "start": [["schtasks", "/Run", "/TN", WINDOWS_TASK]],
        "stop": [["schtasks", "/End", "/TN", WINDOWS_TASK]],
        "status": [["schtasks", "/Query", "/TN", WINDOWS_TASK, "/V", "/FO", "LIST"]],
        "unregister": [["schtasks", "/Delete", "/TN", WINDOWS_TASK, "/F"]],
        "forget": [],
    }[action]
