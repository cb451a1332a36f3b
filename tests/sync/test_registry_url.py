"""`crscan registry add` URL rules: plain HTTP only to loopback unless --insecure; host[:port] only."""

from __future__ import annotations

import pytest

from crscan.sync import SyncError, parse_registry_url


@pytest.mark.parametrize("text, insecure, url", [
    ("registry.example.com", False, "https://registry.example.com"),
    ("https://Registry.Example.com:5000/", False, "https://registry.example.com:5000"),
    ("http://127.0.0.1:5000", False, "http://127.0.0.1:5000"),
    ("http://localhost:5000", False, "http://localhost:5000"),
    ("http://[::1]:5000", False, "http://[::1]:5000"),
    ("http://registry.internal:5000", True, "http://registry.internal:5000"),
])
def test_accepted(text, insecure, url):
    assert parse_registry_url(text, insecure).url == url


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("http://registry.example.com", "plain http:// .* pass --insecure"),
    ("http://10.0.0.5:5000", "plain http://"),
    ("ftp://registry.example.com", "scheme 'ftp' is not supported"),
    ("https://registry.example.com/v2/", "without a path"),
    ("https://registry.example.com?x=1", "without a path or query"),
    ("https://bad_host!", "does not name a valid host"),
    ("http://[::1:5000", "is malformed: Invalid IPv6 URL"),
])
def test_refused_with_the_reason(text, message):
    with pytest.raises(SyncError, match=message):
        parse_registry_url(text)


def test_credentials_in_the_url_are_refused_without_echoing_them():
    with pytest.raises(SyncError) as caught:
        parse_registry_url("https://me:pa55word@registry.example.com")
    assert "--password-stdin" in str(caught.value)
    assert "pa55word" not in str(caught.value)
