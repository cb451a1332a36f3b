from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.registry import InvalidReference, parse_reference
from crscan.registry.reference import ImageReference, is_loopback

HEX = "a" * 64


@pytest.mark.parametrize("text, expected", [
    ("cr.yandex/crp123/app:1.0", ImageReference("cr.yandex", "crp123/app", "1.0")),
    ("cr.yandex/crp123/app", ImageReference("cr.yandex", "crp123/app")),
    ("127.0.0.1:5000/a/b/c@sha256:" + HEX, ImageReference("127.0.0.1:5000", "a/b/c", "", "sha256:" + HEX)),
    ("localhost/app:v1@sha256:" + HEX, ImageReference("localhost", "app", "v1", "sha256:" + HEX)),
    ("[::1]:5000/x_y__z-w.v:Tag_1.2-3", ImageReference("[::1]:5000", "x_y__z-w.v", "Tag_1.2-3")),
    ("registry.example.com:443/team/app", ImageReference("registry.example.com:443", "team/app")),
])
def test_valid_references(text, expected):
    assert parse_reference(text) == expected
    assert str(parse_reference(text)) == text


@pytest.mark.parametrize("text, expected", [
    # Docker's normalisation (distribution's ParseNormalizedNamed): no registry host means Docker Hub, and a
    # one-component name there is an official image under `library/`.
    ("alpine:3.19", "docker.io/library/alpine:3.19"),
    ("alpine", "docker.io/library/alpine"),
    ("user/app", "docker.io/user/app"),
    ("user/app@sha256:" + HEX, "docker.io/user/app@sha256:" + HEX),
    ("library/ubuntu:22.04", "docker.io/library/ubuntu:22.04"),
    ("docker.io/alpine:3.19", "docker.io/library/alpine:3.19"),
    ("index.docker.io/user/app", "docker.io/user/app"),
    ("registry-1.docker.io/library/alpine", "docker.io/library/alpine"),
    ("localhost/app", "localhost/app"),  # `localhost` is a host, as in Docker
])
def test_docker_hub_short_names_are_normalised(text, expected):
    assert str(parse_reference(text)) == expected


def test_docker_hub_is_pulled_from_its_api_host():
    from crscan.registry import RegistryClient

    client = RegistryClient(parse_reference("alpine:3.19").registry)
    try:
        assert client.base_url == "https://registry-1.docker.io"
    finally:
        client.close()


def test_reference_to_fetch_is_digest_then_tag_then_latest():
    assert parse_reference("h.io/a:t@sha256:" + HEX).reference == "sha256:" + HEX
    assert parse_reference("h.io/a:t").reference == "t"
    assert parse_reference("h.io/a").reference == "latest"


@pytest.mark.parametrize("text, message", [
    ("", "empty image reference"),
    ("@sha256:" + HEX, "expected \\[host"),
    ("Ubuntu:22.04", "component 'Ubuntu' must be lowercase"),
    ("cr.yandex/App:1", "component 'App' must be lowercase"),
    ("cr.yandex/a//b", "component ''"),
    ("cr.yandex/a-/b", "component 'a-'"),
    ("cr.yandex/a:-bad", "invalid tag '-bad'"),
    ("cr.yandex/a:" + "t" * 129, "invalid tag"),
    ("cr.yandex/a@sha256:abc", "malformed digest"),
    ("cr.yandex/a@sha256:" + "A" * 64, "lowercase hex"),
    ("cr.yandex/a@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("cr.yandex:99999/a", "invalid port 99999"),
    ("-bad-.host/a", "invalid registry host"),
    (" cr.yandex/a", "whitespace"),
    ("cr.yandex/a b", "whitespace"),
    ("cr.yandex/", "empty repository name"),
    ("cr.yandex/" + "/".join(["abcdefghij"] * 30), "longer than 255"),
])
def test_invalid_references_name_the_problem(text, message):
    with pytest.raises(InvalidReference, match=message):
        parse_reference(text)


_component = st.from_regex(r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    host=st.from_regex(r"[a-z][a-z0-9]{0,8}\.[a-z]{2,5}(?::[1-9][0-9]{0,3})?", fullmatch=True),
    path=st.lists(_component, min_size=1, max_size=4).map("/".join),
    tag=st.one_of(st.just(""), st.from_regex(r"\w[\w.-]{0,20}", fullmatch=True).filter(str.isascii)),
    digest=st.one_of(st.just(""), st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map("sha256:".__add__)),
)
def test_parse_round_trips(host, path, tag, digest):
    reference = ImageReference(host, path, tag, digest)
    assert parse_reference(str(reference)) == reference


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_invalid_reference(text):
    with contextlib.suppress(InvalidReference):
        parse_reference(text)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("[::1]", True), ("::1", True),
    ("10.0.0.1", False), ("cr.yandex", False), ("localhost.example.com", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
