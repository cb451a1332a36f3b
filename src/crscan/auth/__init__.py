"""API tokens, roles and registry scopes.

    from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService
    service = TokenService(SqlTokenRepository(store))
    issued = service.create(Role.VIEWER, registries={"crp…"}, expires_in=parse_duration("30d"))
    issued.secret          # "crk….<secret>": shown once, stored only as its SHA-256
    TokenAuthenticator(service)   # the API's auth hook: bearer token → Caller with role and scope

    service.issue_iam_token(issued.secret)   # IamTokenService.Create: a short-lived "cri…" token acting as it
    service.create_with_key(Role.VIEWER)     # a token used only through a service-account key (SDK key JSON)

Every error is an `AuthError`; `InvalidToken` says why a presented token was refused, `AccessDenied` why a
valid one may not call a method (the API maps them to UNAUTHENTICATED and PERMISSION_DENIED).
"""

from crscan.auth.authorizer import TokenAuthenticator, required_role
from crscan.auth.interface import (
    AccessDenied,
    Authenticator,
    AuthError,
    Caller,
    Credentials,
    IamTokenRecord,
    InvalidToken,
    KeyRecord,
    Role,
    TokenRecord,
    TokenRepository,
)
from crscan.auth.repository import SqlTokenRepository
from crscan.auth.tokens import IssuedIamToken, IssuedKey, IssuedToken, TokenService, parse_duration

__all__ = [
    "AccessDenied",
    "AuthError",
    "Authenticator",
    "Caller",
    "Credentials",
    "IamTokenRecord",
    "InvalidToken",
    "IssuedIamToken",
    "IssuedKey",
    "IssuedToken",
    "KeyRecord",
    "Role",
    "SqlTokenRepository",
    "TokenAuthenticator",
    "TokenRecord",
    "TokenRepository",
    "TokenService",
    "parse_duration",
    "required_role",
]
