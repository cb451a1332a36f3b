"""API tokens, roles and registry scopes.

    from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService
    service = TokenService(SqlTokenRepository(store))
    issued = service.create(Role.VIEWER, registries={"crp…"}, expires_in=parse_duration("30d"))
    issued.secret          # "crk….<secret>": shown once, stored only as its SHA-256
    TokenAuthenticator(service)   # the API's auth hook: bearer token → Caller with role and scope

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
    InvalidToken,
    Role,
    TokenRecord,
    TokenRepository,
)
from crscan.auth.repository import SqlTokenRepository
from crscan.auth.tokens import IssuedToken, TokenService, parse_duration

__all__ = [
    "AccessDenied",
    "AuthError",
    "Authenticator",
    "Caller",
    "Credentials",
    "InvalidToken",
    "IssuedToken",
    "Role",
    "SqlTokenRepository",
    "TokenAuthenticator",
    "TokenRecord",
    "TokenRepository",
    "TokenService",
    "parse_duration",
    "required_role",
]
