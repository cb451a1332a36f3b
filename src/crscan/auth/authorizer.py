"""Who may call what: each API method needs a role, each token may be limited to some registries.

The role check runs in the auth hook, before any servicer, so no servicer code (and no database read about
the request's resources) runs for a caller who may not call the method. Registry scopes are checked by the
servicers, which know each resource's registry (`crscan.api.servicers.common.require_registry_access`, and the
scope filter in their list queries).
"""

from __future__ import annotations

import logging

from crscan.auth.interface import AccessDenied, Authenticator, Caller, Credentials, InvalidToken, Role
from crscan.auth.tokens import TokenService

log = logging.getLogger(__name__)

_CONTAINER_REGISTRY = "/yandex.cloud.containerregistry.v1."
# Mutating methods an editor may call; every other non-read method needs an admin.
EDITOR_METHODS = frozenset({
    _CONTAINER_REGISTRY + "ScannerService/Scan",
    _CONTAINER_REGISTRY + "ImageService/Delete",
    "/yandex.cloud.operation.OperationService/Cancel",
})
EDITOR_SERVICES = frozenset({"yandex.cloud.containerregistry.v1.ScanPolicyService"})
READ_PREFIXES = ("Get", "List")


def required_role(method: str) -> Role:
    """The least role that may call `method` ("/package.Service/Method"). Unknown mutating methods need admin,
    so a service added later is closed until someone decides otherwise."""
    service, _, name = method.strip("/").rpartition("/")
    if name.startswith(READ_PREFIXES):
        return Role.VIEWER
    if method in EDITOR_METHODS or service in EDITOR_SERVICES:
        return Role.EDITOR
    return Role.ADMIN


class TokenAuthenticator(Authenticator):
    """The auth hook with tokens: a valid bearer token whose role may call the method, or the request is refused."""

    def __init__(self, tokens: TokenService):
        self.tokens = tokens

    def authenticate(self, credentials: Credentials) -> Caller:
        try:
            record = self.tokens.verify(credentials.bearer_token)
        except InvalidToken as exc:
            log.info("refused %s %s from %s: %s", credentials.transport, credentials.method, credentials.peer, exc)
            raise
        needed = required_role(credentials.method)
        if record.role < needed:
            log.info("denied %s to token %s (%s)", credentials.method, record.id, record.role.label)
            raise AccessDenied(
                f"token {record.id} has role {record.role.label}; {credentials.method} needs {needed.label}"
            )
        return Caller(
            credentials=credentials,
            authenticated=True,
            subject=f"token:{record.id}",
            token_id=record.id,
            registries=record.registries,
        )
