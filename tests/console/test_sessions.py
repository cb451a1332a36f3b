"""Sign-in and session rules, in process: the console app over the real servicers, token service and a SQLite store."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from starlette.routing import Mount, Router
from starlette.testclient import TestClient

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService, parse_duration
from crscan.console import PREFIX, console_app
from crscan.store import Store
from tests.api.conftest import seed_scanned_image


@pytest.fixture
def setup(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    seeded = seed_scanned_image(store)
    tokens = TokenService(SqlTokenRepository(store))
    authenticator = TokenAuthenticator(tokens)
    app = Router(routes=[Mount(PREFIX, app=console_app(build_servicers(store), authenticator, store, None))])
    yield app, tokens, seeded
    store.close()


def sign_in(client: TestClient, token: str, next_page: str = "/ui/"):
    form = client.get(f"{PREFIX}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post(f"{PREFIX}/signin", params={"next": next_page}, data={"csrf": csrf, "token": token},
                       follow_redirects=False)


def session_cookie(response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("crscan_session="))


def test_the_cookie_is_httponly_strict_and_secure_only_over_https(setup):
    app, tokens, _ = setup
    token = tokens.create(Role.VIEWER, expires_in=parse_duration("1h")).secret
    for base_url, secure in (("http://console.test", False), ("https://console.test", True)):
        with TestClient(app, base_url=base_url) as client:
            cookie = session_cookie(sign_in(client, token)).lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
        assert ("; secure" in cookie) is secure
        max_age = int(re.search(r"max-age=(\d+)", cookie).group(1))
        assert 3590 <= max_age <= 3600  # the token's remaining life


def test_a_session_ends_when_its_token_expires(setup):
    app, tokens, seeded = setup
    token = tokens.create(Role.VIEWER, expires_in=parse_duration("2s")).secret
    with TestClient(app, base_url="http://console.test") as client:
        assert sign_in(client, token).status_code == 303
        assert client.get(f"{PREFIX}/images/{seeded.image_id}").status_code == 200
        time.sleep(2.5)
        ended = client.get(f"{PREFIX}/images/{seeded.image_id}", follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"].startswith(f"{PREFIX}/signin")


def test_a_refused_token_gets_the_reason_and_no_session(setup):
    app, tokens, _ = setup
    issued = tokens.create(Role.VIEWER)
    tokens.revoke(issued.record.id)
    with TestClient(app, base_url="http://console.test") as client:
        for token, reason in ((issued.secret, "was revoked"), ("not-a-token", "not a crscan API token"), ("", "")):
            refused = sign_in(client, token)
            assert refused.status_code == 401 and reason in refused.text
            assert "crscan_session=" not in refused.headers.get("set-cookie", "")


def test_sign_in_needs_the_form_s_own_csrf_value(setup):
    app, tokens, _ = setup
    token = tokens.create(Role.VIEWER).secret
    with TestClient(app, base_url="http://console.test") as client:
        forged = client.post(f"{PREFIX}/signin", data={"csrf": "guessed", "token": token}, follow_redirects=False)
    assert forged.status_code == 403 and "crscan_session=" not in forged.headers.get("set-cookie", "")


@pytest.mark.parametrize("next_page", ["https://evil.example/", "//evil.example/ui/", "/ui\\..\\", "/docs"])
def test_after_sign_in_only_console_paths_are_followed(setup, next_page):
    app, tokens, _ = setup
    with TestClient(app, base_url="http://console.test") as client:
        signed_in = sign_in(client, tokens.create(Role.VIEWER).secret, next_page)
    assert signed_in.headers["location"] == f"{PREFIX}/"


def test_pages_forbid_framing_and_foreign_scripts(setup):
    app, tokens, seeded = setup
    with TestClient(app, base_url="http://console.test") as client:
        sign_in(client, tokens.create(Role.VIEWER).secret)
        page = client.get(f"{PREFIX}/images/{seeded.image_id}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"


def test_the_sign_in_page_says_only_what_the_server_decided(setup):
    app, _, _ = setup
    with TestClient(app, base_url="http://console.test") as client:
        page = client.get(f"{PREFIX}/signin", params={"ended": "Call +1 555 0100 to restore access", "error": "x"})
    assert "555 0100" not in page.text and 'role="alert"' not in page.text


def test_sessions_are_rows_whose_expired_ones_go_when_the_next_is_made(setup, tmp_path):
    """Stored, not in memory: a second console on the same database honours the first's session; an expired row
    is deleted by the next sign-in, and the row holds neither the cookie's id nor the token."""
    from sqlalchemy import select

    from crscan.console.interface import Session
    from crscan.console.sessions import SqlSessionStore
    from crscan.store.console import ConsoleSession

    app, tokens, seeded = setup
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    other = Router(routes=[Mount(PREFIX, app=console_app(build_servicers(store), TokenAuthenticator(
        TokenService(SqlTokenRepository(store))), store, None))])
    token = tokens.create(Role.VIEWER).secret
    long_ago = dt.datetime(2020, 1, 1)
    SqlSessionStore(store).add(Session(id="stale", token=token, csrf="c", subject="", registries=None,
                                       can_edit=False, can_admin=False, expires_at=long_ago, created_at=long_ago))
    with TestClient(app, base_url="http://console.test") as client:
        cookie = sign_in(client, token).cookies["crscan_session"]
    with TestClient(other, base_url="http://console.test") as client:
        client.cookies.set("crscan_session", cookie)
        assert client.get(f"{PREFIX}/images/{seeded.image_id}", follow_redirects=False).status_code == 200
    with store.sessions() as db:
        rows = db.scalars(select(ConsoleSession)).all()
    store.close()
    assert len(rows) == 1 and rows[0].expires_at > long_ago  # the stale one is gone
    assert token.encode() not in rows[0].sealed_token and cookie.encode() not in rows[0].id_sha256
