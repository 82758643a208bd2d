"""OpenID Connect sign-in (this server as a relying party): ``service`` holds the flows,
``client`` talks to one provider, ``idtoken`` checks ID tokens, ``store`` keeps the
pending sign-ins and identity links."""

from assistant.auth.oidc.client import OidcClient
from assistant.auth.oidc.models import AppRedirect, Finish, Finished, Identity, ProviderInfo
from assistant.auth.oidc.service import OidcService

__all__ = [
    "AppRedirect",
    "Finish",
    "Finished",
    "Identity",
    "OidcClient",
    "OidcService",
    "ProviderInfo",
]
