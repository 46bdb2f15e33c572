"""Size limits of a job manifest.

They keep one bad file from costing the server, the Git push check or an agent real memory or
time, and they keep every value small enough for the native schedulers (a crontab line, a systemd
unit, a Task Scheduler XML document). docs/job-manifest-spec.md lists them.
"""

from __future__ import annotations

from typing import Final

MAX_MANIFEST_BYTES: Final = 64 * 1024
MAX_COMMAND_LENGTH: Final = 4096
MAX_ARGS: Final = 256
MAX_ARG_LENGTH: Final = 4096
MAX_ENV_ENTRIES: Final = 128
MAX_ENV_NAME_LENGTH: Final = 128
MAX_ENV_VALUE_LENGTH: Final = 4096
MAX_LABELS: Final = 64
MAX_LABEL_NAME_LENGTH: Final = 63
MAX_LABEL_PREFIX_LENGTH: Final = 253
MAX_LABEL_VALUE_LENGTH: Final = 63
#: Upper bound of spec.timeout and spec.graceTime: 31 days, in seconds.
MAX_SECONDS: Final = 31 * 24 * 3600
