"""The runtime data Crontopus keeps in its database (jobs live in Git, not here).

One module per domain; every model is importable from here, and importing this package
registers every table with `Base.metadata` (what Alembic and the tests compare against).
"""

from crontopus.server.db.models.alerts import (
    AlertChannel,
    AlertCursor,
    AlertDefaults,
    AlertRule,
    ChannelKind,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    MaintenanceWindow,
    Notification,
    NotificationEvent,
    Snooze,
)
from crontopus.server.db.models.announcements import CommitAnnouncement
from crontopus.server.db.models.audit import AuditEvent, OperatorAuditEvent, TenantExport
from crontopus.server.db.models.base import NAMING_CONVENTION, Base, enum_column
from crontopus.server.db.models.fleet import (
    DiscoveredJob,
    Endpoint,
    EnrollmentToken,
    JobInstance,
    PendingEnrollment,
)
from crontopus.server.db.models.identity import (
    AccountToken,
    AccountTokenPurpose,
    ApiToken,
    Membership,
    OidcIdentity,
    RateLimitBucket,
    RefreshToken,
    Role,
    Tenant,
    User,
    UserSession,
)
from crontopus.server.db.models.mail import OutboxMail
from crontopus.server.db.models.runs import (
    EndpointHealthDay,
    EndpointHealthHour,
    JobHealthDay,
    JobHealthHour,
    Run,
    RunCounts,
)
from crontopus.server.db.models.secrets import Secret

__all__ = [
    "NAMING_CONVENTION",
    "AccountToken",
    "AccountTokenPurpose",
    "AlertChannel",
    "AlertCursor",
    "AlertDefaults",
    "AlertRule",
    "ApiToken",
    "AuditEvent",
    "Base",
    "ChannelKind",
    "CommitAnnouncement",
    "DeliveryStatus",
    "DiscoveredJob",
    "Endpoint",
    "EndpointHealthDay",
    "EndpointHealthHour",
    "EnrollmentToken",
    "Incident",
    "IncidentStatus",
    "JobHealthDay",
    "JobHealthHour",
    "JobInstance",
    "MaintenanceWindow",
    "Membership",
    "Notification",
    "NotificationEvent",
    "OidcIdentity",
    "OperatorAuditEvent",
    "OutboxMail",
    "PendingEnrollment",
    "RateLimitBucket",
    "RefreshToken",
    "Role",
    "Run",
    "RunCounts",
    "Secret",
    "Snooze",
    "Tenant",
    "TenantExport",
    "User",
    "UserSession",
    "enum_column",
]
