"""The web console in a real browser (Debian's chromium via Playwright) against a real `crscan serve`.

The main flow also takes the screenshots docs/ui.md shows.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
from playwright.sync_api import expect

from tests.console.conftest import (
    FIXED_FINDING,
    HIDDEN_REGISTRY,
    HIDDEN_REPOSITORY,
    NEW_FINDING,
    SCREENSHOTS,
    XSS_PACKAGE,
    XSS_TAG,
    Console,
    sign_in,
)

SCAN_SECONDS = 300


def api(console: Console, token: str, path: str, **params) -> dict:
    response = httpx.get(console.served.rest_url + path, params=params,
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def shot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def test_sign_in_browse_scan_filter_and_sign_out(console: Console, page):
    page.goto(console.url + "/")
    expect(page).to_have_url(re.compile(r"/ui/signin\?next="))
    shot(page, "signin")
    page.get_by_label("API token").fill(console.admin)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    session_cookie = next(c for c in page.context.cookies() if c["name"] == "crscan_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict" and session_cookie["path"] == "/ui"
    assert console.admin not in session_cookie["value"]
    admin_id = console.admin.partition(".")[0]
    token_expiry = console.tokens.repository.find(admin_id)[0].expires_at.replace(tzinfo=dt.UTC).timestamp()
    assert abs(session_cookie["expires"] - token_expiry) < 60  # the session ends with the token

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registries").click()
    expect(page.get_by_role("link", name="local", exact=True)).to_be_visible()
    shot(page, "registries")
    page.get_by_role("link", name="local", exact=True).click()
    page.get_by_role("link", name="test/bookworm").click()
    expect(page.get_by_role("heading", name="Repository test/bookworm")).to_be_visible()
    expect(page.locator("tbody tr").first).to_contain_text("never scanned")
    shot(page, "repository")
    page.locator("tbody tr").first.get_by_role("link").first.click()

    expect(page.get_by_test_id("scan-state")).to_have_text("never scanned")
    page.get_by_role("button", name="Scan now").click()
    expect(page.get_by_test_id("scan-state")).to_have_text("running")
    expect(page.get_by_test_id("scan-state")).to_have_text("ready", timeout=SCAN_SECONDS * 1000)  # htmx polling
    page.get_by_role("link", name="Show the results").click()

    image_url = page.url
    image_id = image_url.rsplit("/", 1)[1]
    assert image_id == console.bookworm_id
    last = api(console, console.admin, f"/container-registry/v1/images/{image_id}:lastScanResult")
    total = sum(int(v) for v in last["vulnerabilities"].values())
    assert total > 0  # bookworm's packages have advisories in the shared mirror
    expect(page.get_by_test_id("findings-count")).to_have_text(f"{total} of {total} findings.")
    shot(page, "image", full_page=False)
    introduced = page.get_by_role("region", name="Layers").locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert len(introduced) > 1 and sum(map(int, introduced)) == total  # every finding is attributed to a layer

    # Filter by severity: the same rows the API's own severity filter returns.
    high = api(console, console.admin, f"/container-registry/v1/scans/{last['id']}:listVulnerabilities",
               filter='severity="HIGH"', pageSize=1000)["vulnerabilities"]
    page.get_by_label("Severity").select_option("high")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("findings-count")).to_have_text(f"{len(high)} of {total} findings match the filters.")
    assert "severity=high" in page.url  # htmx pushed the filter into the address: the view is bookmarkable
    severities = page.locator("table.findings tbody tr td:first-child .sev").all_inner_texts()
    assert severities == ["high"] * len(high)
    names = sorted(page.locator("table.findings tbody tr td:nth-child(2)").all_inner_texts())
    assert names == sorted(v["package"]["name"] for v in high)

    # Fixable only, then one package: each row has a fixed-by version / names that package.
    page.get_by_label("Severity").select_option("")
    page.get_by_label("fixable only").check()
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"severity=&.*fixable=1"))  # pushed once the table was swapped
    fixed_cells = page.locator("table.findings tbody tr td:nth-child(5)").all_inner_texts()
    assert fixed_cells and "no fix" not in fixed_cells
    package = high[0]["package"]["package"]
    page.get_by_label("fixable only").uncheck()
    page.get_by_label("Package").fill(package)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"package={re.escape(package)}&ecosystem=$"))
    packages = set(page.locator("table.findings tbody tr td:nth-child(3)").all_inner_texts())
    assert packages and all(package in p for p in packages)

    # The same filtered view without JavaScript-driven swaps: a plain GET renders the same table.
    page.goto(f"{image_url}?severity=high")
    expect(page.get_by_test_id("findings-count")).to_have_text(f"{len(high)} of {total} findings match the filters.")

    # Exports are the CLI's report formats of this scan.
    with page.expect_download() as download:
        page.get_by_role("link", name="SARIF").click()
    sarif = download.value.path().read_text()
    assert '"version": "2.1.0"' in sarif and high[0]["package"]["name"] in sarif

    page.goto(console.url + "/")
    markup = api(console, console.admin, f"/container-registry/v1/images/{console.xss_image_id}:lastScanResult")
    highs = int(last["vulnerabilities"].get("high", 0)) + int(markup["vulnerabilities"]["high"])
    expect(page.get_by_test_id("total-high")).to_have_text(str(highs))  # the two scanned images' last scans
    shot(page, "overview")
    page.goto(f"{console.url}/tokens")
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    shot(page, "tokens")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "crscan_session"]
    page.goto(image_url)
    expect(page).to_have_url(re.compile(r"/ui/signin\?next="))


def test_a_viewer_sees_no_scan_button_and_is_refused_when_posting_anyway(console: Console, page):
    sign_in(page, console, console.viewer, f"/images/{console.bookworm_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("test/bookworm")
    expect(page.get_by_role("button", name="Scan now")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Edit policy|Create policy"))).to_have_count(0)
    expect(page.get_by_role("link", name="Tokens")).to_have_count(0)
    before = api(console, console.admin, "/container-registry/v1/scans", imageId=console.bookworm_id)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")

    response = page.request.post(f"{console.url}/images/{console.bookworm_id}/scan", form={"csrf": csrf})

    assert response.status == 403
    assert "needs editor" in response.text()
    assert api(console, console.admin, "/container-registry/v1/scans", imageId=console.bookworm_id) == before
    assert page.request.get(f"{console.url}/tokens").status == 403


def test_a_scoped_token_never_sees_another_registrys_names(console: Console, page):
    sign_in(page, console, console.scoped_viewer)
    pages = [page.content()]
    page.goto(console.url + "/registries")
    expect(page.get_by_role("link", name="local", exact=True)).to_be_visible()
    pages.append(page.content())
    # Searching for the other registry's name answers exactly as for a name that does not exist.
    page.goto(f"{console.url}/registries?name={HIDDEN_REGISTRY}")
    hidden_search = page.content().replace(HIDDEN_REGISTRY, "NAME")
    page.goto(f"{console.url}/registries?name=no-such-registry")
    assert hidden_search == page.content().replace("no-such-registry", "NAME")
    for path in (f"/registries/{console.hidden_registry_id}", f"/registries/{console.hidden_registry_id}/policy"):
        response = page.goto(console.url + path)
        assert response.status == 403
        pages.append(page.content())
    unscoped = httpx.get(f"{console.served.rest_url}/container-registry/v1/registries/{console.hidden_registry_id}",
                         headers={"Authorization": f"Bearer {console.admin}"}).json()
    assert unscoped["name"] == HIDDEN_REGISTRY  # the name exists; the scoped token just never sees it
    for html in pages:
        assert HIDDEN_REGISTRY not in html and HIDDEN_REPOSITORY not in html and "prod-hidden-tag" not in html


def test_posts_without_the_csrf_token_are_refused(console: Console, page):
    sign_in(page, console, console.editor)
    before = api(console, console.admin, "/container-registry/v1/scans", imageId=console.xss_image_id)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")

    for form in ({}, {"csrf": "not-the-session-token"}, {"csrf": csrf + "x"}):
        response = page.request.post(f"{console.url}/images/{console.xss_image_id}/scan", form=form)
        assert response.status == 403, form
        assert "CSRF" in response.text()
    assert page.request.post(f"{console.url}/signout", form={}).status == 403
    assert api(console, console.admin, "/container-registry/v1/scans", imageId=console.xss_image_id) == before
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()  # still signed in: sign-out was refused too


def test_markup_in_tag_package_and_path_is_rendered_as_text(console: Console, page):
    sign_in(page, console, console.viewer)
    page.goto(f"{console.url}/registries/{console.registry_id}")
    page.get_by_role("link", name="test/markup").click()
    expect(page.get_by_text(XSS_TAG, exact=True)).to_be_visible()
    page.goto(f"{console.url}/images/{console.xss_image_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS_TAG)
    expect(page.get_by_role("cell", name=XSS_PACKAGE, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="CVE-2099-0001")).to_have_count(0)  # a javascript: link is not a link
    page.get_by_label("Package").fill(XSS_PACKAGE)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("findings-count")).to_have_text("1 of 2 findings match the filters.")

    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x], svg, table.findings script").count() == 0
    assert page.dialogs == []


def test_history_says_what_changed_since_the_previous_run(console: Console, page):
    sign_in(page, console, console.viewer, f"/images/{console.xss_image_id}")

    runs = page.get_by_role("region", name="History").locator("tbody tr")
    expect(runs).to_have_count(2)
    newest, oldest = runs.nth(0).locator("td"), runs.nth(1).locator("td")
    assert newest.nth(2).inner_text() == "seeded-1" and oldest.nth(2).inner_text() == "seeded-0"
    assert (newest.nth(4).inner_text(), newest.nth(5).inner_text()) == ("1", "1")  # NEW_FINDING in, FIXED_FINDING out
    assert (oldest.nth(4).inner_text(), oldest.nth(5).inner_text()) == ("—", "—")  # nothing before it to compare
    expect(page.get_by_role("row", name=re.compile(NEW_FINDING))).to_contain_text("new")
    expect(page.get_by_role("row", name=re.compile("CVE-2099-0001"))).not_to_contain_text("new")
    page.get_by_text("1 fixed since the previous run").click()
    expect(page.get_by_text(f"{FIXED_FINDING} in pad-0")).to_be_visible()


def test_a_revoked_token_ends_the_session(console: Console, page):
    from crscan.auth import Role

    issued = console.tokens.create(Role.VIEWER, description="revoked during the test")
    sign_in(page, console, issued.secret)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    console.tokens.revoke(issued.record.id)
    page.goto(console.url + "/registries")

    expect(page).to_have_url(re.compile(r"/ui/signin\?next=/ui/registries$"))
    expect(page.get_by_role("alert")).to_contain_text(f"token {issued.record.id} was revoked")
    assert not [c for c in page.context.cookies() if c["name"] == "crscan_session"]
    page.reload()
    expect(page.get_by_role("alert")).to_have_count(0)  # said once


def test_an_admin_creates_and_revokes_a_token_whose_secret_is_shown_once(console: Console, page):
    sign_in(page, console, console.admin, "/tokens")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_label("Description").fill("made in the browser")
    page.get_by_role("button", name="Create").click()
    secret = page.get_by_test_id("new-secret").input_value()
    token_id = secret.partition(".")[0]
    assert console.tokens.verify(secret).description == "made in the browser"

    page.goto(console.url + "/tokens")
    assert secret.partition(".")[2] not in page.content()  # shown once
    page.get_by_role("button", name=f"Revoke {token_id}").click()
    expect(page.get_by_role("row", name=re.compile(token_id))).to_contain_text("revoked")
    assert console.tokens.repository.find(token_id)[0].revoked_at is not None


def test_an_editor_edits_the_scan_policy_through_the_api(console: Console, page):
    sign_in(page, console, console.editor, f"/registries/{console.registry_id}/policy")
    page.get_by_role("link", name=re.compile("(Edit|Create) policy")).click()
    page.get_by_label("Name").fill("nightly")
    page.get_by_label(re.compile("^Rules")).fill('{"pushRule": {"repositoryPrefixes": ["test"]}, '
                                                '"scheduleRules": [{"repositoryPrefixes": ["test"], '
                                                '"rescanPeriod": "86400s"}]}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Scan policy of local")).to_be_visible()
    expect(page.locator("dd").first).to_have_text("nightly")
    shot(page, "policy")
    policy = api(console, console.admin, f"/container-registry/v1/scanPolicies/{console.registry_id}:byRegistry")
    assert policy["name"] == "nightly"
    assert policy["rules"]["scheduleRules"] == [{"repositoryPrefixes": ["test"], "rescanPeriod": "86400s"}]

    page.get_by_role("link", name="Edit policy").click()
    page.get_by_label(re.compile("^Rules")).fill('{"pushRule": {"repositoryPrefixes": 7}}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("rules")


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(e => e.tagName === 'BUTTON' ? !e.innerText.trim() && !e.getAttribute('aria-label')
                                       : !e.labels.length && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML)"""

# WCAG 2 contrast of each visible text element against the first opaque background behind it.
LOW_CONTRAST = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                            if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) || !e.offsetParent) continue;
    const [a, b] = [lum(rgb(getComputedStyle(e).color).slice(0, 3)), lum(background(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(`${e.tagName}.${e.className}: ${ratio.toFixed(2)} "${e.innerText.slice(0, 30)}"`);
  }
  return bad; }"""


def test_controls_are_labelled_text_has_contrast_and_the_keyboard_reaches_scan_now(console: Console, page):
    sign_in(page, console, console.admin)
    repository = console.store.repositories.find(console.registry_id, "test/bookworm")
    for path in ("/", "/registries", f"/registries/{console.registry_id}", f"/repositories/{repository.id}",
                 f"/images/{console.bookworm_id}", f"/images/{console.xss_image_id}",
                 f"/registries/{console.registry_id}/policy/edit", "/tokens"):
        page.goto(console.url + path)
        assert page.evaluate(UNLABELLED_CONTROLS) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path

    page.goto(f"{console.url}/images/{console.bookworm_id}")
    scans_before = len(api(console, console.admin, "/container-registry/v1/scans",
                           imageId=console.bookworm_id)["scanResults"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Skip to content"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.innerText") == "Scan now":
            break
    else:
        raise AssertionError("Tab never reached the Scan now button")
    page.keyboard.press("Enter")
    # A rescan of layers already indexed can finish before the answer is drawn: either state, one more scan.
    expect(page.get_by_test_id("scan-state")).to_have_text(re.compile("^(running|ready)$"))
    scans = api(console, console.admin, "/container-registry/v1/scans", imageId=console.bookworm_id)["scanResults"]
    assert len(scans) == scans_before + 1


def test_reading_and_filtering_work_without_javascript(console: Console, browser):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, console, console.viewer, f"/registries/{console.registry_id}")
        page.get_by_role("link", name="test/bookworm").click()
        page.locator("tbody tr").first.get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("test/bookworm")
        total = int(re.match(r"(\d+) of", page.get_by_test_id("findings-count").inner_text()).group(1))
        assert total > 0 and page.locator("table.findings tbody tr").count() == min(total, 250)

        page.get_by_label("Severity").select_option("medium")
        page.get_by_role("button", name="Filter").click()  # a plain GET form: the whole page comes back filtered

        assert "severity=medium" in page.url
        expect(page.get_by_test_id("findings-count")).to_contain_text(f"of {total} findings match the filters")
        severities = set(page.locator("table.findings tbody tr td:first-child .sev").all_inner_texts())
        assert severities <= {"medium"}
    finally:
        context.close()


def test_a_known_exploited_finding_is_flagged_and_the_overview_names_its_image(console: Console, page, test_images):
    """Issue 15's question, "which of our images carry a KEV CVE with a fix?", in two clicks from the overview."""
    from crscan.registry import open_source
    from crscan.scan.pipeline import Scanner
    from crscan.vulndb import FeedDB

    sign_in(page, console, console.editor, f"/images/{console.bookworm_id}")
    state = page.get_by_test_id("scan-state")
    if state.inner_text() == "never scanned":  # the main flow scans it; alone, this test does
        page.get_by_role("button", name="Scan now").click()
    expect(state).to_have_text("ready", timeout=SCAN_SECONDS * 1000)
    with FeedDB.open(console.served_feed_db) as db, open_source(test_images["bookworm"].oci_ref) as source:
        findings = Scanner().scan(source, db).findings
    exploited = [f for f in findings if f.kev is not None]
    fixable = [f for f in exploited if f.fixed_by]
    assert fixable  # the KEV fixture lists Django's CVE-2022-28346, which bookworm's django has a fix for

    page.goto(console.url + "/")
    region = page.get_by_role("region", name=re.compile("Images with KEV findings"))
    row = region.locator("tbody tr", has_text="test/bookworm")
    expect(row.locator("td").nth(1)).to_have_text(str(len(exploited)))
    row.get_by_role("link", name=str(len(fixable)), exact=True).click()

    expect(page.get_by_label("known exploited (KEV) only")).to_be_checked()
    expect(page.get_by_test_id("findings-count")).to_have_text(
        re.compile(rf"^{len(fixable)} of {len(findings)} findings match the filters"))
    table = page.locator("table.findings")
    headers = table.locator("thead th").all_inner_texts()
    assert {"KEV", "EPSS", "CVSS"} <= set(headers)
    names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == sorted(f.name for f in fixable)
    django = table.get_by_role("row", name=re.compile("CVE-2022-28346"))
    cells = dict(zip(headers, django.locator("td").all_inner_texts(), strict=True))
    assert (cells["KEV"], cells["EPSS"]) == ("KEV", "0.500 p98")  # the fixtures' values for this CVE
    expected = next(f for f in fixable if f.name == "CVE-2022-28346")
    assert cells["CVSS"] == (f"{expected.cvss_score:.1f}" if expected.cvss_score is not None else "—")
    expect(django.get_by_text("KEV", exact=True)).to_have_attribute("title",
                                                                  re.compile("since 2024-01-10; due 2024-01-31"))
    expect(page.get_by_test_id("risk-notice")).to_have_count(0)  # this build has KEV and EPSS data
    shot(page, "image-kev", full_page=False)


def test_scans_stored_without_risk_data_say_so_instead_of_showing_blanks(console: Console, page):
    sign_in(page, console, console.viewer, f"/images/{console.xss_image_id}")  # seeded without risk feeds
    expect(page.get_by_test_id("risk-notice")).to_contain_text("KEV/EPSS not recorded for this scan")
    page.goto(console.url + "/")
    expect(page.get_by_test_id("kev-unknown")).to_contain_text("test/markup")
