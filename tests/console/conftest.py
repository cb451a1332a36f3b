"""A real `crscan serve` (SQLite, auth on, the shared feeds with the KEV/EPSS fixtures) over the local registry's
real test images, attached and synced with the `crscan registry` CLI, and Debian's chromium driven by Playwright.

The store is also opened in-process, the way an operator's CLI would, for what no API call makes: tokens, a
second registry a scoped token must not see, and an image whose tag and package name carry markup.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from crscan.api.messages import OPERATION_CODEC
from crscan.auth import Role, SqlTokenRepository, TokenService
from crscan.model import Finding, Severity
from crscan.store import Layer, Store
from tests.api.test_serve_cli import CRSCAN, Served, serve
from tests.vulndb.support import risk_feed_db

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
XSS_TAG = '<img src=x onerror="window.__xss=1">'
XSS_PACKAGE = "<script>window.__xss=2</script>"
HIDDEN_REGISTRY = "payroll-secret"
HIDDEN_REPOSITORY = "finance/salaries-api"
FIXED_FINDING, NEW_FINDING = "CVE-2099-0002", "CVE-2099-0003"


@dataclass(frozen=True)
class Console:
    served: Served
    store: Store
    tokens: TokenService
    url: str  # http://localhost:PORT/ui
    registry_id: str  # "local": the synced test images
    bookworm_id: str  # never scanned when the module starts
    xss_image_id: str
    hidden_registry_id: str
    served_feed_db: Path  # the feed DB the server scans with
    admin: str
    editor: str
    viewer: str
    scoped_viewer: str  # viewer limited to the "local" registry


def registry_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    done = subprocess.run([str(CRSCAN), "registry", *args, "--data-dir", str(data_dir)], capture_output=True,
                          text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def console(tmp_path_factory, shared_data, local_registry, test_images) -> Console:
    directory = tmp_path_factory.mktemp("console")
    data_dir = directory / "data"
    feed_db = risk_feed_db(tmp_path_factory, shared_data)  # KEV/EPSS fixtures cover bookworm's CVEs
    added = registry_cli("add", "local", local_registry.url, data_dir=data_dir)
    registry_id = added.stdout.split("id ")[1].split(",")[0]
    registry_cli("sync", "local", data_dir=data_dir)

    store = Store(f"sqlite:///{data_dir / 'crscan.db'}", OPERATION_CODEC)
    bookworm = store.repositories.find(registry_id, test_images["bookworm"].repository)
    (bookworm_image,) = _images(store, bookworm.id)

    hidden = store.registries.add(HIDDEN_REGISTRY, "registry.hidden.example", folder_id="default")
    hidden_repository = store.repositories.add(hidden.id, HIDDEN_REPOSITORY)
    store.images.add(hidden_repository.id, "sha256:" + "1f" * 32, tags=["prod-hidden-tag"],
                    layers=[Layer("sha256:" + "2f" * 32, 100)])

    xss_repository = store.repositories.add(registry_id, "test/markup")
    xss_image = store.images.add(xss_repository.id, "sha256:" + "3f" * 32, tags=[XSS_TAG],
                                layers=[Layer("sha256:" + "4f" * 32, 100)])
    markup = Finding(
        name="CVE-2099-0001", advisory_id="CVE-2099-0001", link="javascript:window.__xss=3", package=XSS_PACKAGE,
        source="npm", version="1.0.0", fixed_by="1.0.1", origin="lang", type="node", severity=Severity.HIGH,
        severity_source="ghsa", path='/app/"><svg onload=window.__xss=4>',
    )
    # Two runs: the second no longer finds FIXED_FINDING and newly finds NEW_FINDING.
    for run, other in enumerate((FIXED_FINDING, NEW_FINDING)):
        operation = store.scans.start(xss_image.id)
        others = [replace(markup, name=other, advisory_id=other, link="", package=f"pad-{run}", severity=Severity.LOW)]
        store.scans.finish(store.operations.get(operation.id).resource_id, [markup, *others],
                          {Severity.HIGH: 1, Severity.LOW: 1}, f"seeded-{run}", [])

    tokens = TokenService(SqlTokenRepository(store))
    hour = dt.timedelta(hours=1)
    secrets = {
        "admin": tokens.create(Role.ADMIN, expires_in=hour, description="console test admin").secret,
        "editor": tokens.create(Role.EDITOR, expires_in=hour).secret,
        "viewer": tokens.create(Role.VIEWER, expires_in=hour).secret,
        "scoped_viewer": tokens.create(Role.VIEWER, registries=[registry_id], expires_in=hour).secret,
    }
    served = serve("--data-dir", str(data_dir), "--feed-db", str(feed_db), "--http-port", "0", "--grpc-port", "0")
    try:
        yield Console(served, store, tokens, served.rest_url + "/ui", registry_id, bookworm_image.id, xss_image.id,
                      hidden.id, feed_db, **secrets)
    finally:
        served.stop(signal.SIGTERM)
        store.close()


def _images(store: Store, repository_id: str):
    from crscan.store import schema

    with store.sessions() as session:
        return list(session.query(schema.Image).filter_by(repository_id=repository_id))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/install.sh --test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def sign_in(page, console: Console, token: str, path: str = "/") -> None:
    page.goto(console.url + path)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
