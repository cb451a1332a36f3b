"""Resource IDs shaped like Yandex Cloud's: 20 characters, a 3-letter prefix + 17 random base32 characters.

The alphabet is lowercase "extended hex" base32 (`0-9a-v`), drawn with `secrets`, so IDs are unguessable and
collide with probability 2**-85 per pair (the primary keys still enforce uniqueness).

Prefixes (the first three follow Yandex; the last two are ours, chosen in the same `cr*` family):

========================  ======
resource                  prefix
========================  ======
registry                  crp
image                     crp
repository                crt
scan result               che
operation                 cro
scan policy               crs
========================  ======

Input validation is deliberately looser than generation: any ID of up to 50 characters from `[a-z0-9]` is
well-formed (the API's `length: "<=50"`), so an ID from another installation is "not found", not "invalid".
"""

from __future__ import annotations

import base64
import re
import secrets

ALPHABET = "0123456789abcdefghijklmnopqrstuv"
RANDOM_LENGTH = 17
MAX_LENGTH = 50

REGISTRY = "crp"
IMAGE = "crp"
REPOSITORY = "crt"
SCAN_RESULT = "che"
OPERATION = "cro"
SCAN_POLICY = "crs"

_WELL_FORMED = re.compile(r"[a-z0-9]+")
# The protos' pattern for registry names (RegistryService `name`); CLI, API filters and the store all use it.
_REGISTRY_NAME = re.compile(r"[a-z][-a-z0-9]{1,61}[a-z0-9]")


class InvalidName(ValueError):
    """A resource name given as input does not follow its grammar; the message names the grammar."""


class InvalidId(ValueError):
    """An ID given as input is missing or malformed; the message names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def new_id(prefix: str) -> str:
    """A fresh random ID for a resource whose prefix is `prefix`."""
    # 11 random bytes are 88 bits; the first 17 base32 characters carry 85 of them, uniformly.
    return prefix + base64.b32hexencode(secrets.token_bytes(11)).decode().lower()[:RANDOM_LENGTH]


def check_id(value: str, field: str) -> str:
    """Return `value` if it is a well-formed ID, else raise InvalidId naming `field`."""
    if not value:
        raise InvalidId(field, f"{field} is required")
    if len(value) > MAX_LENGTH:
        raise InvalidId(field, f"{field} is too long: {len(value)} characters, at most {MAX_LENGTH} allowed")
    if not _WELL_FORMED.fullmatch(value):
        raise InvalidId(field, f"{field} is malformed: only lowercase letters and digits are allowed")
    return value


def check_registry_name(value: str) -> str:
    """Return `value` if it is a valid registry name, else raise InvalidName saying the grammar."""
    if not isinstance(value, str) or not _REGISTRY_NAME.fullmatch(value):
        shown = repr(value[:100]) if isinstance(value, str) else type(value).__name__
        raise InvalidName(
            f"registry name {shown} is invalid: 3-63 lowercase letters, digits and '-', starting with a letter "
            "and not ending with '-'"
        )
    return value
