"""GraphQL types for the secret store (a secret's value has no field here but JobSecret's)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crontopus.server.db import models
from crontopus.server.services.secrets import JobSecret as JobSecretValue


@strawberry.type(
    description="A secret of the tenant: its name, who changed it and when; never its value."
)
class Secret:
    name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str = strawberry.field(description="Who set the current value.")

    @classmethod
    def from_model(cls, secret: models.Secret) -> Secret:
        return cls(
            name=secret.name,
            created_at=secret.created_at,
            updated_at=secret.updated_at,
            updated_by=secret.updated_by,
        )


@strawberry.type(description="A variable of a job's environment with the value of its secret.")
class JobSecret:
    variable: str = strawberry.field(description="The environment variable the job sees.")
    secret: str = strawberry.field(description="The name of the secret it references.")
    value: str

    @classmethod
    def from_value(cls, item: JobSecretValue) -> JobSecret:
        return cls(variable=item.variable, secret=item.secret, value=item.value)


@strawberry.type(description="The secret values one job needs for its next run.")
class JobSecrets:
    items: list[JobSecret]


@strawberry.type(description="A deleted secret.")
class DeleteSecretPayload:
    secret: Secret
