"""What the auth package relies on: roles, the stored shape of a token, where tokens are kept, and the shape of
an authenticator (what a request presents → who the caller is)."""

from __future__ import annotations

import abc
import datetime as dt
import enum
from collections.abc import Hashable
from dataclasses import dataclass


class AuthError(Exception):
    """Base of every auth error; the message says what was wrong and never contains a token secret."""


class InvalidToken(AuthError):
    """A presented token is missing, malformed, unknown, expired or revoked."""


class AccessDenied(AuthError):
    """The caller is known but may not call the method (its role is too low)."""


class Role(enum.IntEnum):
    """Each role may do everything the lower ones may; the value orders them."""

    VIEWER = 1  # Get and List
    EDITOR = 2  # + Scan, Cancel, scan policies, image Delete
    ADMIN = 3  # + registries, tokens

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise AuthError(f"unknown role {name!r}; one of viewer, editor, admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored, without its secret. `registries` is None for a token that may see every registry."""

    id: str
    role: Role
    registries: frozenset[str] | None
    description: str
    created_at: dt.datetime  # naive UTC, like every timestamp in the store
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class KeyRecord:
    """The public half of a service-account key: JWTs it verifies act as token `token_id`."""

    id: str
    token_id: str
    public_key_pem: str
    created_at: dt.datetime


@dataclass(frozen=True)
class IamTokenRecord:
    """A short-lived token issued in exchange for an API token or a key's JWT; it acts as token `token_id`."""

    id: str
    token_id: str
    created_at: dt.datetime
    expires_at: dt.datetime


class TokenRepository(abc.ABC):
    """Durable token records keyed by id, each with the SHA-256 of its secret; the service-account keys bound to
    them, and the IAM tokens issued for them."""

    @abc.abstractmethod
    def add(self, record: TokenRecord, secret_hash: bytes) -> None: ...

    @abc.abstractmethod
    def find(self, token_id: str) -> tuple[TokenRecord, bytes] | None:
        """The record and secret hash of `token_id`, None when there is no such token."""

    @abc.abstractmethod
    def all(self) -> list[TokenRecord]:
        """Every token, revoked and expired ones included, oldest first."""

    @abc.abstractmethod
    def revoke(self, token_id: str, at: dt.datetime) -> TokenRecord:
        """Mark the token revoked (kept for the audit trail; its IAM tokens are refused through it);
        AuthError when there is no such token."""

    @abc.abstractmethod
    def add_key(self, key: KeyRecord) -> None: ...

    @abc.abstractmethod
    def find_key(self, key_id: str) -> KeyRecord | None: ...

    @abc.abstractmethod
    def add_iam_token(self, record: IamTokenRecord, secret_hash: bytes) -> None:
        """Store a new IAM token, and forget the ones that expired before `record.created_at`."""

    @abc.abstractmethod
    def find_iam_token(self, iam_token_id: str) -> tuple[IamTokenRecord, bytes] | None: ...

    @abc.abstractmethod
    def remove_iam_token(self, iam_token_id: str) -> None: ...

    def change_marker(self) -> Hashable | None:
        """A value that differs once any process may have changed the stored tokens, read without a query: what
        lets `TokenService` skip the lookup of a token it verified under the same marker (an exact cache: a
        revocation by any process counts from the next request). None: no such signal here, every verification
        reads the record."""
        return None


@dataclass(frozen=True)
class Credentials:
    """What a request presents, independent of transport."""

    method: str  # full gRPC method name, "/yandex.cloud.containerregistry.v1.ScannerService/List"
    transport: str  # "grpc" or "rest"
    bearer_token: str | None  # from `authorization: Bearer …`; None when absent
    peer: str = ""

    @property
    def service(self) -> str:
        return self.method.strip("/").split("/")[0]


@dataclass(frozen=True)
class Caller:
    """Who made the current request, as the authenticator established it."""

    credentials: Credentials
    authenticated: bool  # False when auth is disabled or the method is public
    subject: str = ""  # the identity behind the token ("token:<id>"); recorded as an Operation's created_by
    token_id: str = ""  # binds page tokens to the caller who was given them
    registries: frozenset[str] | None = None  # the only registries the caller may see; None = no restriction


class Authenticator(abc.ABC):
    """Decides who a request comes from, or refuses it: `InvalidToken` (the API answers UNAUTHENTICATED) or
    `AccessDenied` (PERMISSION_DENIED)."""

    @abc.abstractmethod
    def authenticate(self, credentials: Credentials) -> Caller: ...
