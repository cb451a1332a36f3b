"""List pages in process: paged with the API's own page tokens, sorted and searched as the API sorts and filters."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from starlette.routing import Mount, Router
from starlette.testclient import TestClient

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService
from crscan.console import PREFIX, console_app
from crscan.console.app import LIST_PAGE_SIZE
from crscan.store import Store
from tests.console.test_sessions import sign_in

REPOSITORIES = LIST_PAGE_SIZE + 7


@pytest.fixture
def client(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    registry = store.registries.add("many", "registry.example", folder_id="default")
    for n in range(REPOSITORIES):
        repository = store.repositories.add(registry.id, f"team/app-{n:03d}")
    for n in range(3):
        store.images.add(repository.id, f"sha256:{n:064x}", tags=[f"v{n}"])
    tokens = TokenService(SqlTokenRepository(store))
    authenticator = TokenAuthenticator(tokens)
    app = Router(routes=[Mount(PREFIX, app=console_app(build_servicers(store), authenticator, store, None))])
    with TestClient(app, base_url="http://console.test") as client:
        sign_in(client, tokens.create(Role.VIEWER).secret)
        client.registry_id, client.repository_id = registry.id, repository.id
        yield client
    store.close()


def names(html: str) -> list[str]:
    return re.findall(r'<a href="/ui/repositories/crt[0-9a-v]+">([^<]+)</a>', html)


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_repositories_page_through_the_api_s_page_tokens(client):
    first = client.get(f"{PREFIX}/registries/{client.registry_id}")
    link = next_link(first.text)
    assert names(first.text) == [f"team/app-{n:03d}" for n in range(LIST_PAGE_SIZE)]
    assert parse_qs(urlparse(link).query)["page_token"]  # the API's opaque token, passed through

    second = client.get(link)

    assert names(second.text) == [f"team/app-{n:03d}" for n in range(LIST_PAGE_SIZE, REPOSITORIES)]
    assert next_link(second.text) is None
    tampered = client.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB"))
    assert tampered.status_code == 400 and "page_token" in tampered.text  # the API's own verdict


def test_repositories_sort_descending_and_search_by_exact_name(client):
    descending = client.get(f"{PREFIX}/registries/{client.registry_id}", params={"order": "name desc"})
    assert names(descending.text)[:2] == [f"team/app-{REPOSITORIES - 1:03d}", f"team/app-{REPOSITORIES - 2:03d}"]
    found = client.get(f"{PREFIX}/registries/{client.registry_id}", params={"name": "team/app-007"})
    assert names(found.text) == ["team/app-007"]
    unknown_order = client.get(f"{PREFIX}/registries/{client.registry_id}", params={"order": "id desc"})
    assert names(unknown_order.text)[0] == "team/app-000"  # only the orders the API offers; else the default


def test_images_sort_by_push_time_both_ways(client):
    def tags(order: str) -> list[str]:
        page = client.get(f"{PREFIX}/repositories/{client.repository_id}", params={"order": order})
        return re.findall(r'<span class="tag">([^<]+)</span>', page.text)

    assert tags("createdAt desc") == ["v2", "v1", "v0"]
    assert tags("createdAt asc") == ["v0", "v1", "v2"]
