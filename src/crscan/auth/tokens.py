"""API tokens: created with a random secret shown once, stored only as the secret's SHA-256, verified in
constant time, expiring and revocable.

A token as presented is `<token id>.<secret>`: the id (`crk` + 17 base32 characters, not secret) finds the
record, the secret (32 random bytes, base64url) proves possession. Only the id ever reaches logs and listings.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from crscan import ids
from crscan.auth.interface import AuthError, InvalidToken, Role, TokenRecord, TokenRepository

TOKEN_PREFIX = "crk"
SECRET_BYTES = 32
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded
_TOKEN_ID = re.compile(TOKEN_PREFIX + r"[0-9a-v]{17}")
_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_DESCRIPTION = 256
# Compared against when the id is unknown, so an unknown id costs the same hash-and-compare as a wrong secret.
_NO_SUCH_HASH = hashlib.sha256(b"no such token").digest()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def parse_duration(text: str) -> dt.timedelta:
    """"30d", "12h", "90m", "2w", "3600s" → timedelta; anything else is an AuthError naming the accepted forms."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise AuthError(
            f"expiry {text!r} is not a duration: use a positive number and a unit, like 30d, 12h, 90m, 2w or 3600s"
        )
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class IssuedToken:
    record: TokenRecord
    secret: str  # the whole bearer token; exists only in the creator's hands after this


class TokenService:
    """Creates, verifies, lists and revokes tokens kept in a `TokenRepository`."""

    def __init__(self, repository: TokenRepository):
        self.repository = repository

    def create(
        self,
        role: Role,
        *,
        registries: Iterable[str] | None = None,
        expires_in: dt.timedelta | None = None,
        description: str = "",
        now: dt.datetime | None = None,
    ) -> IssuedToken:
        """A new token; `registries` None = every registry, otherwise only those (at least one)."""
        if len(description) > MAX_DESCRIPTION or not description.isprintable():
            raise AuthError(f"a description is at most {MAX_DESCRIPTION} printable characters")
        scope = None
        if registries is not None:
            scope = frozenset(ids.check_id(r, "registry id") for r in registries)
            if not scope:
                raise AuthError("a registry-scoped token needs at least one registry id")
        now = now or utcnow()
        token_id = ids.new_id(TOKEN_PREFIX)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
        record = TokenRecord(
            id=token_id,
            role=role,
            registries=scope,
            description=description,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
            revoked_at=None,
        )
        self.repository.add(record, hash_secret(secret))
        return IssuedToken(record=record, secret=f"{token_id}.{secret}")

    def verify(self, presented: str | None, now: dt.datetime | None = None) -> TokenRecord:
        """The record of a valid token; InvalidToken otherwise. Expiry and revocation are only disclosed to a
        caller who holds the right secret."""
        if not presented:
            raise InvalidToken("this method requires a token: send the header `Authorization: Bearer TOKEN`")
        token_id, _, secret = presented.partition(".")
        if not _TOKEN_ID.fullmatch(token_id) or not _SECRET.fullmatch(secret):
            raise InvalidToken("the bearer token is not a crscan API token (create one with `crscan token create`)")
        found = self.repository.find(token_id)
        stored_hash = found[1] if found is not None else _NO_SUCH_HASH
        if not hmac.compare_digest(hash_secret(secret), stored_hash) or found is None:
            raise InvalidToken("the bearer token is not valid")
        record = found[0]
        state = record.state(now or utcnow())
        if state == "revoked":
            raise InvalidToken(f"token {record.id} was revoked")
        if state == "expired":
            raise InvalidToken(f"token {record.id} expired at {record.expires_at:%Y-%m-%d %H:%M:%S} UTC")
        return record

    def has_active(self, role: Role, now: dt.datetime | None = None) -> bool:
        """Whether some unexpired, unrevoked token has at least `role` (serve says how to make one if not)."""
        now = now or utcnow()
        return any(r.role >= role and r.state(now) == "active" for r in self.repository.all())

    def list(self) -> list[TokenRecord]:
        return self.repository.all()

    def revoke(self, token_id: str, now: dt.datetime | None = None) -> TokenRecord:
        if not _TOKEN_ID.fullmatch(token_id):
            # Not echoed: a mistaken paste may be the whole secret.
            raise AuthError(f"not a token id: ids look like {TOKEN_PREFIX}… (see `crscan token list`)")
        return self.repository.revoke(token_id, now or utcnow())
