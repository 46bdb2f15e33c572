"""GraphQL types for personal API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from crontopus.server.db import models
from crontopus.server.security.principal import Scope

# strawberry.enum registers the enum class itself, so fields are annotated with that class:
# mypy then checks them as the enum they are.
strawberry.enum(Scope, name="TokenScope", description="What an API token may do.")
TokenScope = Scope


@strawberry.type(description="A personal API token; the secret itself is never shown again.")
class ApiToken:
    id: uuid.UUID
    name: str
    hint: str = strawberry.field(description="The last four characters, to tell tokens apart.")
    scopes: list[TokenScope]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, token: models.ApiToken) -> ApiToken:
        return cls(
            id=token.id,
            name=token.name,
            hint=token.hint,
            scopes=[Scope(s) for s in token.scopes],
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


@strawberry.type(description="A new token and its plaintext, shown this once only.")
class CreatedApiToken:
    token: ApiToken
    plaintext: str
