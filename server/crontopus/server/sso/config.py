"""The OpenID Connect providers an operator configured (`CRONTOPUS_OIDC_*` variables)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

#: A provider's name: in its settings' variable names, its URLs and the database.
NAME_RE: Final = re.compile(r"^[a-z][a-z0-9]{0,30}$")
#: What the login asks for: an ID token (openid) with the e-mail address and a name.
DEFAULT_SCOPES: Final = ("openid", "email", "profile")


@dataclass(frozen=True)
class OidcProvider:
    """One provider: where it is (its issuer) and how Crontopus is registered with it."""

    name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    label: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    @property
    def discovery_url(self) -> str:
        """Where the provider describes itself (OpenID Connect Discovery 1.0, section 4)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def start_path(self) -> str:
        return f"/auth/oidc/{self.name}/start"

    @property
    def callback_path(self) -> str:
        return f"/auth/oidc/{self.name}/callback"
