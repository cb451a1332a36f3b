"""API tokens: created with a random secret shown once, stored only as the secret's SHA-256, verified in
constant time, expiring and revocable.

A token as presented is `<token id>.<secret>`: the id (`crk` + 17 base32 characters, not secret) finds the
record, the secret (32 random bytes, base64url) proves possession. Only the id ever reaches logs and listings.

IAM tokens (`IamTokenService.Create`) have the same shape with the prefix `cri`: short-lived, issued in exchange
for an API token or for a JWT signed with a service-account key bound to one (`create_with_key`), and acting as
that token: its role and scope, refused once it is revoked or expired.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from crscan import ids
from crscan.auth import keys
from crscan.auth.interface import (
    AuthError,
    IamTokenRecord,
    InvalidToken,
    KeyRecord,
    Role,
    TokenRecord,
    TokenRepository,
)

TOKEN_PREFIX = "crk"
IAM_TOKEN_PREFIX = "cri"
KEY_PREFIX = "crj"
# As long as Yandex's; never longer than the token it was issued for.
IAM_TOKEN_LIFETIME = dt.timedelta(hours=12)
SECRET_BYTES = 32
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded
_TOKEN_ID = re.compile(TOKEN_PREFIX + r"[0-9a-v]{17}")
_IAM_TOKEN_ID = re.compile(IAM_TOKEN_PREFIX + r"[0-9a-v]{17}")
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


def new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedToken:
    record: TokenRecord
    secret: str  # the whole bearer token; exists only in the creator's hands after this


@dataclass(frozen=True)
class IssuedKey:
    """A token usable only through its service-account key: the private key exists only in this object."""

    record: TokenRecord
    key: KeyRecord
    private_key_pem: str

    def sdk_json(self) -> dict[str, Any]:
        """The key file `yandexcloud.SDK(service_account_key=…)` and `yc` read (`yc iam key create`'s shape)."""
        return {
            "id": self.key.id,
            "service_account_id": self.record.id,
            "created_at": f"{self.key.created_at:%Y-%m-%dT%H:%M:%SZ}",
            "key_algorithm": keys.KEY_ALGORITHM,
            "public_key": self.key.public_key_pem,
            "private_key": self.private_key_pem,
        }


@dataclass(frozen=True)
class IssuedIamToken:
    record: IamTokenRecord
    secret: str  # the whole bearer token


@dataclass(frozen=True)
class _Verified:
    """A presented token whose secret matched: its record, and the IAM token it was presented as (if one)."""

    record: TokenRecord
    iam: IamTokenRecord | None = None

    def active(self, now: dt.datetime) -> TokenRecord:
        """The record, unless the IAM token or the token expired or the token was revoked (InvalidToken)."""
        if self.iam is None:
            return _active(self.record, now)
        if self.iam.expires_at <= now:
            raise InvalidToken(f"IAM token {self.iam.id} expired at {self.iam.expires_at:%Y-%m-%d %H:%M:%S} UTC: "
                               "ask IamTokenService.Create for a new one")
        return _active(self.record, now, f"IAM token {self.iam.id} was issued for")


class VerifiedTokens:
    """Tokens whose secret matched, by the SHA-256 of the whole presented token, valid under one change marker:
    a new marker (some process changed the stored tokens) empties it. Bounded: full, it starts over."""

    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        # (marker, entries) in one attribute, replaced whole: a thread never sees entries under another's marker.
        self._state: tuple[Hashable, dict[bytes, _Verified]] = (None, {})

    def get(self, key: bytes, marker: Hashable) -> _Verified | None:
        current, entries = self._state
        return entries.get(key) if current == marker else None

    def put(self, key: bytes, marker: Hashable, verified: _Verified) -> None:
        current, entries = self._state
        if current != marker or len(entries) >= self.MAX_ENTRIES:
            entries = {}
            self._state = (marker, entries)
        entries[key] = verified


class TokenService:
    """Creates, verifies, lists and revokes tokens kept in a `TokenRepository`."""

    def __init__(self, repository: TokenRepository):
        self.repository = repository
        self._verified = VerifiedTokens()

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
        secret = new_secret()
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

    def create_with_key(
        self,
        role: Role,
        *,
        registries: Iterable[str] | None = None,
        expires_in: dt.timedelta | None = None,
        description: str = "",
        now: dt.datetime | None = None,
    ) -> IssuedKey:
        """A token like `create`'s whose secret nobody receives: it is used only through the returned
        service-account key (a JWT signed with it is exchanged for IAM tokens), like a Yandex service account."""
        now = now or utcnow()
        record = self.create(role, registries=registries, expires_in=expires_in, description=description,
                             now=now).record
        private_pem, public_pem = keys.generate_key_pair()
        key = KeyRecord(id=ids.new_id(KEY_PREFIX), token_id=record.id, public_key_pem=public_pem, created_at=now)
        self.repository.add_key(key)
        return IssuedKey(record=record, key=key, private_key_pem=private_pem)

    def verify(self, presented: str | None, now: dt.datetime | None = None) -> TokenRecord:
        """The record of a valid token (for an IAM token: of the token it was issued for); InvalidToken
        otherwise. Expiry and revocation are only disclosed to a caller who holds the right secret.

        A token verified before is not looked up again while the repository's change marker stays the same (no
        process changed the stored tokens since): the check of the secret is then the SHA-256 of the whole
        presented token, found among those already verified; expiry is still checked against `now`."""
        if not presented:
            raise InvalidToken("this method requires a token: send the header `Authorization: Bearer TOKEN`")
        now = now or utcnow()
        marker = self.repository.change_marker()  # read before the lookup: a change during it voids the entry
        if marker is None:
            return self._verify(presented).active(now)
        key = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()  # any str: refused below, not here
        verified = self._verified.get(key, marker)
        if verified is None:
            verified = self._verify(presented)
            self._verified.put(key, marker, verified)
        return verified.active(now)

    def _verify(self, presented: str) -> _Verified:
        """The presented token's stored record(s) once its secret matches the stored hash; InvalidToken if not."""
        token_id, _, secret = presented.partition(".")
        if _IAM_TOKEN_ID.fullmatch(token_id) and _SECRET.fullmatch(secret):
            return self._verify_iam_token(token_id, secret)
        if not _TOKEN_ID.fullmatch(token_id) or not _SECRET.fullmatch(secret):
            raise InvalidToken("the bearer token is not a crscan API token or IAM token "
                               "(create one with `crscan token create`)")
        found = self.repository.find(token_id)
        stored_hash = found[1] if found is not None else _NO_SUCH_HASH
        if not hmac.compare_digest(hash_secret(secret), stored_hash) or found is None:
            raise InvalidToken("the bearer token is not valid")
        return _Verified(found[0])

    def _verify_iam_token(self, iam_token_id: str, secret: str) -> _Verified:
        found = self.repository.find_iam_token(iam_token_id)
        stored_hash = found[1] if found is not None else _NO_SUCH_HASH
        if not hmac.compare_digest(hash_secret(secret), stored_hash) or found is None:
            raise InvalidToken("the bearer token is not valid (an IAM token that is unknown, or was revoked "
                               "or expired and forgotten)")
        return _Verified(self._issuer(found[0].token_id), found[0])

    def _issuer(self, token_id: str) -> TokenRecord:
        found = self.repository.find(token_id)
        if found is None:  # the foreign keys cascade, so this is a token removed while the call ran
            raise InvalidToken(f"token {token_id} no longer exists")
        return found[0]

    def issue_iam_token(self, presented: str, now: dt.datetime | None = None) -> IssuedIamToken:
        """IamTokenService.Create with `yandex_passport_oauth_token`: an API token in, an IAM token out."""
        if presented.partition(".")[0].startswith(IAM_TOKEN_PREFIX):
            # Else a chain of exchanges would keep one IAM token alive for as long as its API token.
            raise InvalidToken("an IAM token cannot be exchanged for another: send the crscan API token (crk…)")
        now = now or utcnow()
        return self._issue(self.verify(presented, now), now)

    def issue_iam_token_for_jwt(
        self, token: str, audiences: Collection[str], now: dt.datetime | None = None
    ) -> IssuedIamToken:
        """IamTokenService.Create with `jwt`: a JWT signed with a service-account key in, an IAM token out."""
        key_id = keys.key_id_of(token)
        key = self.repository.find_key(key_id)
        if key is None:
            raise InvalidToken(f"unknown key id {key_id}: keys are made with `crscan token create --key`")
        keys.verify_jwt(token, key, audiences)
        now = now or utcnow()
        return self._issue(_active(self._issuer(key.token_id), now, f"key {key.id} belongs to"), now)

    def revoke_iam_token(self, presented: str, now: dt.datetime | None = None) -> TokenRecord:
        """IamTokenService.Revoke: the IAM token stops working at once; returns the token it acted as."""
        iam_token_id = presented.partition(".")[0]
        if not _IAM_TOKEN_ID.fullmatch(iam_token_id):
            raise InvalidToken("iam_token is not a crscan IAM token (cri…)")
        record = self.verify(presented, now)
        self.repository.remove_iam_token(iam_token_id)
        return record

    def _issue(self, record: TokenRecord, now: dt.datetime) -> IssuedIamToken:
        expires_at = now + IAM_TOKEN_LIFETIME
        if record.expires_at is not None:
            expires_at = min(expires_at, record.expires_at)
        iam = IamTokenRecord(id=ids.new_id(IAM_TOKEN_PREFIX), token_id=record.id, created_at=now,
                             expires_at=expires_at)
        secret = new_secret()
        self.repository.add_iam_token(iam, hash_secret(secret))
        return IssuedIamToken(record=iam, secret=f"{iam.id}.{secret}")

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


def _active(record: TokenRecord, now: dt.datetime, via: str = "") -> TokenRecord:
    """`record` if it is neither revoked nor expired; else InvalidToken saying which (`via`: how the presented
    credential leads to this token, "IAM token cri… was issued for")."""
    state = record.state(now)
    if state == "active":
        return record
    subject = f"{via} token {record.id}, which" if via else f"token {record.id}"
    if state == "revoked":
        raise InvalidToken(f"{subject} was revoked")
    raise InvalidToken(f"{subject} expired at {record.expires_at:%Y-%m-%d %H:%M:%S} UTC")
