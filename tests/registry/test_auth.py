from __future__ import annotations

import email.utils
import time

import pytest

from crscan.registry import AuthError
from crscan.registry.auth import Credentials, TokenCache, parse_challenge
from crscan.registry.client import _retry_after


def test_bearer_challenge_with_quoted_commas_and_escapes():
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push",error="insufficient_scope",note="say \\"hi\\""'
    )
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example/token"
    assert challenge.params["scope"] == "repository:a/b:pull,push"
    assert challenge.params["service"] == "registry.example"
    assert challenge.params["note"] == 'say "hi"'


def test_basic_challenge_and_unquoted_values():
    challenge = parse_challenge("Basic realm=crscan-test")
    assert (challenge.scheme, challenge.realm) == ("basic", "crscan-test")


def test_empty_challenge_is_an_auth_error():
    with pytest.raises(AuthError, match="empty WWW-Authenticate"):
        parse_challenge("   ")


def test_token_cache_expires_a_margin_before_the_server_says():
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    key = ("https://auth/token", "svc", "repository:a:pull")
    cache.put(key, "tok", lifetime=60)
    assert cache.get(key) == "tok"
    assert cache.get((*key[:2], "repository:b:pull")) is None  # tokens are per scope
    now[0] += 54.9
    assert cache.get(key) == "tok"
    now[0] += 0.2
    assert cache.get(key) is None


def test_credentials_repr_hides_the_password():
    assert "hunter2" not in repr(Credentials("me", "hunter2"))


def test_retry_after_forms():
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= _retry_after(later) <= 30
    assert _retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0
