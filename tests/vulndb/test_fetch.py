"""Fetching over HTTP from a local server: ETag revalidation, 404 as absent, other statuses as errors."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest

from crscan.vulndb import FeedDB, FeedError, Location, update
from crscan.vulndb.alpine import AlpineUpdater

SECDB = json.dumps({"packages": [{"pkg": {"name": "zlib", "secfixes": {"1.2.12-r2": ["CVE-2022-37434"]}}}]}).encode()


class _Feeds(http.server.BaseHTTPRequestHandler):
    """Serves `files` (path -> bytes) with strong ETags; `status` forces an answer for a path."""

    files: dict[str, bytes] = {}
    status: dict[str, int] = {}
    requests: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        self.requests.append((self.path, self.headers.get("If-None-Match", "")))
        if self.path in self.status:
            self.send_error(self.status[self.path])
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (_Feeds,), {"files": {}, "status": {}, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unchanged_source_is_revalidated_by_etag_and_not_downloaded_again(server, tmp_path):
    handler, url = server
    handler.files["/alpine/v3.18/main.json"] = SECDB
    first = update(tmp_path / "feeds.db", url)
    assert first.rebuilt and [s.name for s in first.sources] == ["alpine/v3.18/main.json"]
    assert first.sources[0].etag and first.sources[0].url == f"{url}/alpine/v3.18/main.json"

    second = update(tmp_path / "feeds.db", url)
    assert not second.rebuilt and second.build_id == first.build_id
    assert ("/alpine/v3.18/main.json", first.sources[0].etag) in handler.requests

    handler.files["/alpine/v3.18/main.json"] = SECDB.replace(b"1.2.12-r2", b"1.2.12-r3")
    third = update(tmp_path / "feeds.db", url)
    assert third.rebuilt and third.build_id != first.build_id and third.sources[0].etag != first.sources[0].etag


def test_server_errors_name_the_source_and_keep_the_previous_db(server, tmp_path):
    handler, url = server
    handler.files["/alpine/v3.18/main.json"] = SECDB
    first = update(tmp_path / "feeds.db", url)
    handler.status["/osv/PyPI/all.zip"] = 503
    with pytest.raises(FeedError, match=r"osv/PyPI/all.zip: GET .*/osv/PyPI/all.zip answered HTTP 503"):
        update(tmp_path / "feeds.db", url)
    with FeedDB.open(tmp_path / "feeds.db") as db:
        assert db.build_id == first.build_id


def test_unreachable_mirror_is_a_feed_error(tmp_path):
    location = Location("http://127.0.0.1:9")
    with pytest.raises(FeedError, match=r"alpine/v3.18/main.json: cannot fetch http://127.0.0.1:9/"):
        location.fetch(AlpineUpdater("v3.18", "main"), tmp_path)
