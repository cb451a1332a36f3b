"""Service-account keys: an RSA key pair per key, the private half handed out once in the JSON shape the
`yandexcloud` SDK reads (`SDK(service_account_key=…)`), the public half stored; and the check of the JWT the SDK
signs with it to ask for an IAM token.

The SDK's JWT (as Yandex IAM expects it): header `alg` PS256 and `kid` = the key id; claims `iss` = the service
account id (here: the crscan token the key is bound to), `aud` = the IAM token URL, `iat`, and `exp` one hour
later. Each is checked; a failure is an `InvalidToken` that says which check failed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crscan.auth.interface import InvalidToken, KeyRecord

ALGORITHM = "PS256"
KEY_ALGORITHM = "RSA_2048"  # the SDK key JSON's name for what `generate_key_pair` makes
RSA_BITS = 2048
# Yandex IAM refuses JWTs valid for longer; a leaked one is then useless within the hour.
MAX_JWT_LIFETIME = dt.timedelta(hours=1)
CLOCK_SKEW = dt.timedelta(seconds=60)
MAX_JWT_BYTES = 8192
_PRINTABLE_KID = re.compile(r"[a-z0-9]{1,50}")


def generate_key_pair() -> tuple[str, str]:
    """(private key as PKCS#8 PEM, public key as SubjectPublicKeyInfo PEM)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def key_id_of(token: str) -> str:
    """The `kid` of a JWT's header, read before anything is verified (it says which key verifies it)."""
    if len(token) > MAX_JWT_BYTES:
        raise InvalidToken(f"the JWT is longer than {MAX_JWT_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the jwt field is not a JSON Web Token (header.payload.signature, base64url)") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"the JWT must be signed with {ALGORITHM}, not {str(header.get('alg'))[:20]!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the JWT header has no kid: set it to the key's id (the `id` of its key JSON)")
    if not _PRINTABLE_KID.fullmatch(kid):
        raise InvalidToken("the JWT's kid is not a key id (ids are lowercase letters and digits)")
    return kid


def verify_jwt(token: str, key: KeyRecord, audiences: Collection[str]) -> None:
    """Raise `InvalidToken` unless `token` is signed by `key`, issued by its service account (token), meant for
    one of `audiences`, current, and valid for at most an hour."""
    try:
        claims = jwt.decode(
            token,
            key.public_key_pem,
            algorithms=[ALGORITHM],
            audience=sorted(audiences),
            issuer=key.token_id,
            leeway=CLOCK_SKEW,
            options={"require": ["iss", "aud", "iat", "exp"]},
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken(f"the JWT's signature does not verify with key {key.id}") from None
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the JWT has expired (its exp is in the past): sign a new one") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("the JWT is not valid yet (its iat is in the future): check the client's clock") from None
    except jwt.InvalidAudienceError:
        expected = " or ".join(sorted(audiences))
        raise InvalidToken(f"the JWT's aud is not this server's IAM token URL: expected {expected}") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken(
            f"the JWT's iss must be the service account id of key {key.id}: {key.token_id}"
        ) from None
    except jwt.MissingRequiredClaimError as e:
        raise InvalidToken(f"the JWT has no {e.claim} claim") from None
    except jwt.PyJWTError as e:
        raise InvalidToken(f"the JWT is not valid: {e}") from None
    lifetime = dt.timedelta(seconds=float(claims["exp"]) - float(claims["iat"]))
    if lifetime > MAX_JWT_LIFETIME + CLOCK_SKEW:
        raise InvalidToken(f"the JWT is valid for {lifetime}; at most {MAX_JWT_LIFETIME} is accepted")
