"""KEV/EPSS/CVSS in the console from stored findings, in process: the overview names images with KEV findings,
the table shows the signals, and a feed build without KEV or EPSS data is named, never shown as zeros."""

from __future__ import annotations

import html
import re

import pytest
from starlette.routing import Mount, Router
from starlette.testclient import TestClient

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService
from crscan.console import PREFIX, console_app
from crscan.model import KevFlag, Severity
from crscan.store import Store
from crscan.vulndb import FeedDB
from tests.console.test_sessions import sign_in
from tests.store.seeding import add_image, finding
from tests.vulndb.support import shared_feed_db

KEV = KevFlag("2025-08-25", "2025-09-15")


@pytest.fixture
def seeded(tmp_path, tmp_path_factory, shared_data):
    """The shared feed DB (CISA's catalog, no EPSS scores) and three images: KEV findings with and without a fix,
    no KEV finding, and one scanned before crscan recorded risk feeds."""
    feed_db = shared_feed_db(tmp_path_factory, shared_data)
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    registry = store.registries.add("prod", "registry.example", folder_id="default")

    def scanned(repository: str, findings: list, missing: list[str] | None) -> str:
        image = add_image(store, registry.id, repository, tags=["1"])
        scan_id = store.operations.get(store.scans.start(image.id).id).resource_id
        store.scans.finish(scan_id, findings, {f.severity: 1 for f in findings}, "build-x", [], missing)
        return image.id

    images = {
        "git": scanned("team/git", [
            finding("CVE-2025-48384", Severity.HIGH, package="git", kev=KEV, cvss_score=8.0,
                    cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:H/A:H"),
            finding("CVE-2025-00001", Severity.LOW, package="git-man", kev=KEV, fixed_by=""),
            finding("CVE-2024-00002", Severity.LOW, package="zlib"),
        ], ["EPSS"]),
        "plain": scanned("team/plain", [finding("CVE-2024-00003", Severity.LOW)], ["EPSS"]),
        "old": scanned("team/old", [finding("CVE-2024-00004", Severity.LOW)], None),
    }
    tokens = TokenService(SqlTokenRepository(store))
    app = Router(routes=[Mount(PREFIX, app=console_app(build_servicers(store), TokenAuthenticator(tokens), store,
                                                       feed_db))])
    with TestClient(app, base_url="http://console.test") as client:
        sign_in(client, tokens.create(Role.VIEWER).secret)
        client.images, client.feed_db = images, feed_db
        yield client
    store.close()


def section(page: str, heading_id: str) -> str:
    return page.split(f'aria-labelledby="{heading_id}"', 1)[1].split("</section>", 1)[0]


def test_overview_lists_images_with_kev_findings_and_names_what_it_cannot_know(seeded):
    with FeedDB.open(seeded.feed_db) as db:
        build = db.build_id
    page = seeded.get(f"{PREFIX}/").text
    kev = section(page, "kev")
    assert f"no EPSS data in feed build {build}" in kev  # the shared mirror has CISA's catalog but no EPSS
    rows = re.findall(r"<tr><td><a href=\"/ui/images/(\w+)\?kev=1\">([^<]+)</a></td>\s*<td>(\d+)</td>", kev)
    assert [(image, name.rsplit("/", 1)[1], count) for image, name, count in rows] == [
        (seeded.images["git"], "git:1", "2")]
    assert f'href="/ui/images/{seeded.images["git"]}?kev=1&amp;fixable=1">1</a>' in kev
    unknown = kev.split('data-testid="kev-unknown"', 1)[1]
    assert "1 image not counted" in unknown and seeded.images["old"] in unknown
    assert seeded.images["plain"] not in kev  # known to have none


def test_image_table_shows_the_stored_signals_and_the_feed_build_they_lacked(seeded):
    page = seeded.get(f"{PREFIX}/images/{seeded.images['git']}", params={"kev": "1"}).text
    assert "2 of 3 findings match the filters" in page
    assert re.search(r'data-testid="risk-notice"[^>]*>no EPSS data in feed build build-x<', page)
    header = re.findall(r'<th scope="col">([^<]+)</th>', page.split("<thead>", 2)[1].split("</thead>")[0])
    assert "KEV" in header and "CVSS" in header and "EPSS" not in header  # no finding has a score to show
    row = next(r for r in page.split("<tr>") if "CVE-2025-48384" in r)
    assert 'title="in CISA&#39;s KEV catalog since 2025-08-25; due 2025-09-15"' in row and ">8.0<" in row
    assert html.escape("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:H/A:H") in row

    old = seeded.get(f"{PREFIX}/images/{seeded.images['old']}").text
    assert "KEV/EPSS not recorded for this scan" in old


def test_exports_carry_the_stored_signals_and_the_missing_feed(seeded):
    import json

    report = json.loads(seeded.get(f"{PREFIX}/images/{seeded.images['git']}/export/json").text)
    git = next(f for f in report["findings"] if f["name"] == "CVE-2025-48384")
    assert git["kev"] == {"date_added": "2025-08-25", "due_date": "2025-09-15"} and git["epss"] is None
    assert "no EPSS data in feed build build-x" in report["warnings"]
