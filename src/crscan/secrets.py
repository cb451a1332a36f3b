"""Registry passwords at rest: Fernet (AES-128-CBC + HMAC-SHA256) under one installation key.

The key comes from `Settings.secret_key` (env `CRSCAN_SECRET_KEY`), else from `<data_dir>/secret.key`, which is
generated once (mode 0600) when absent. Every process of an installation (CLI, server) must see the same key.
No message here ever contains the key or a plaintext.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


class SecretError(Exception):
    """The key is unusable or a stored secret cannot be decrypted; the message says which and why."""


class SecretBox:
    """Encrypts and decrypts short secrets with one Fernet key."""

    def __init__(self, key: bytes | str, source: str):
        self.source = source  # where the key came from, for error messages
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SecretError(
                f"the secret key from {source} is not a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with: python -c "
                "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes, what: str) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise SecretError(
                f"{what} cannot be decrypted with the secret key from {self.source}: "
                "the key changed since it was stored; add the credentials again"
            ) from None


def load_secret_box(secret_key: str, data_dir: Path) -> SecretBox:
    """The installation's box: `secret_key` when set, else `<data_dir>/secret.key`, created if missing."""
    if secret_key:
        return SecretBox(secret_key.strip(), "CRSCAN_SECRET_KEY / secret_key")
    path = data_dir / KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SecretError(f"cannot create the secret key file {path}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise SecretError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    if not key:  # a concurrent creator has not written it yet, or it was truncated
        raise SecretError(f"the secret key file {path} is empty; delete it only if no password was stored with it")
    return SecretBox(key, str(path))


def hash_secret(secret: str) -> bytes:
    """What is stored of a secret that is only ever compared (a registry's webhook secret): its SHA-256.

    A plain hash suffices: the secrets are 32 random bytes when generated and at least 16 characters when given,
    too many to guess from a leaked hash."""
    return hashlib.sha256(secret.encode()).digest()
