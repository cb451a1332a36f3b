"""Hostile request bodies on a served API with token auth on: every one is a 400 INVALID_ARGUMENT naming the
problem, with or without a token, and nothing is logged as an error (the body parser, not a route, rejects it)."""

from __future__ import annotations

import logging

import pytest

from tests.auth.conftest import FOLDER

SCANS = "/container-registry/v1/scans"
BAD_BODIES = [
    (b"[" * 100_000 + b"]" * 100_000, "nests more than 32 levels"),
    (b'{"imageId": ' + b"[" * 500 + b"]" * 500 + b"}", "nests more than 32 levels"),
    (b'{"imageId": ' + b"9" * 5000 + b"}", "integer of 5000 digits"),
    (b'{"imageId": "\xff\xfe"}', "not valid UTF-8: byte 13"),
    (b'{"imageId": "a", "imageId": "b"}', "key 'imageId' more than once"),
    (b'{"imageId": NaN}', "NaN is not a JSON number"),
    (b'{"\\ud999x": {"name": 1}}', "lone surrogate \\ud999"),  # found by bench/fuzz_long.py: SystemError
    (b'{"imageId": "\\udc00"}', "lone surrogate \\udc00"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"a string"', "must be a JSON object"),
    (b"{not json", "not valid JSON"),
]


@pytest.mark.parametrize("token", ["none", "admin"])
@pytest.mark.parametrize("body, message", BAD_BODIES, ids=[m for _, m in BAD_BODIES])
def test_a_hostile_body_is_a_clear_400_before_and_after_auth(auth_api, caplog, token, body, message):
    secret = auth_api.world.tokens[token]
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {secret}"} if secret else {})
    response = auth_api.http.post(SCANS, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3 and message in response.json()["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_good_body_still_reaches_the_method(auth_api):
    headers = {"authorization": f"Bearer {auth_api.world.tokens['admin']}"}
    response = auth_api.http.post(SCANS, json={"imageId": auth_api.world.alpha_image}, headers=headers)
    assert response.status_code == 200, response.text
    listed = auth_api.http.get("/container-registry/v1/registries", params={"folderId": FOLDER}, headers=headers)
    assert listed.status_code == 200
