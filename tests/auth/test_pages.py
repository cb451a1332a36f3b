"""With token auth on, only /healthz answers without a token; the other pages need any valid token."""

import pytest

PAGES = ["/docs", "/openapi.json"]


def get(auth_api, path, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return auth_api.http.get(path, headers=headers)


def test_liveness_stays_public(auth_api):
    assert get(auth_api, "/healthz", None).status_code == 200


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("caller", ["none", "bad", "expired", "revoked"])
def test_pages_refuse_callers_without_a_valid_token(auth_api, path, caller):
    answer = get(auth_api, path, auth_api.world.tokens[caller])
    assert answer.status_code == 401
    assert answer.json()["code"] == 16


@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_a_viewer(auth_api, path):
    assert get(auth_api, path, auth_api.world.tokens["viewer"]).status_code == 200
