"""Registry passwords at rest: key from the environment or a generated 0600 file; clear errors, no leaks."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from crscan.secrets import KEY_FILE, SecretBox, SecretError, load_secret_box


def test_key_file_is_generated_once_with_mode_0600_and_reused(tmp_path):
    box = load_secret_box("", tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = box.encrypt("hunter2")
    key = path.read_bytes()
    again = load_secret_box("", tmp_path / "data")
    assert path.read_bytes() == key
    assert again.decrypt(token, "the password") == "hunter2"
    assert b"hunter2" not in token


def test_configured_key_wins_over_the_file(tmp_path):
    key = Fernet.generate_key().decode()
    token = load_secret_box(key, tmp_path).encrypt("pw")
    assert not (tmp_path / KEY_FILE).exists()
    assert SecretBox(key, "x").decrypt(token, "the password") == "pw"


def test_a_changed_key_is_named_as_the_cause_without_leaking_anything(tmp_path):
    key = Fernet.generate_key().decode()
    token = SecretBox(key, "old").encrypt("top-secret-pw")
    with pytest.raises(SecretError) as caught:
        load_secret_box(Fernet.generate_key().decode(), tmp_path).decrypt(token, "the password of registry 'r'")
    assert "the password of registry 'r' cannot be decrypted" in str(caught.value)
    assert "key changed" in str(caught.value)
    assert "top-secret-pw" not in str(caught.value) and key not in str(caught.value)


@pytest.mark.parametrize("key", ["short", "x" * 44, "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!!"])
def test_a_malformed_key_is_refused_without_echoing_it(tmp_path, key):
    with pytest.raises(SecretError, match="is not a Fernet key") as caught:
        load_secret_box(key, tmp_path)
    assert key not in str(caught.value)


def test_an_empty_key_file_is_an_error_not_a_new_key(tmp_path):
    (tmp_path / KEY_FILE).write_bytes(b"")
    with pytest.raises(SecretError, match="secret key file .* is empty"):
        load_secret_box("", tmp_path)
