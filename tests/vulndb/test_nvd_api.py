"""NVD's CVE API 2.0 path against a local Starlette app that serves the shared NVD records (fkie-cad copies of
real NVD records) in the API's response shape, paging and date-range rules: every page is read, a second run
asks only for what was modified since the first and merges just that, the key header goes out when set, and a
throttled answer is retried after a back-off (the pauses go to an injected sleep, so the tests do not wait)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import pickle
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crscan.vulndb import FeedDB
from crscan.vulndb.build import build, default_updaters
from crscan.vulndb.fetch import Location
from crscan.vulndb.interface import FeedError
from crscan.vulndb.nvd import NvdUpdater, years
from crscan.vulndb.nvd_api import API_KEY_ENV, MAX_WINDOW, NvdApiUpdater, api_time, windows

PAGE = 20  # the 145 shared records in 8 pages
T1 = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)  # after every shared record's lastModified (≤ 2026-06-17)
PATH = "/rest/json/cves/2.0"


def _nvd_time(text: str) -> dt.datetime:
    """NVD's timestamps carry no zone (UTC); the query's carry an offset."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass
class FakeNvd:
    """The CVE API 2.0 endpoint over a list of `cve` objects, refusing what NVD refuses."""

    records: list[dict[str, Any]]
    requests: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    refuse_next: list[int] = field(default_factory=list)  # statuses to answer before serving again

    async def cves(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.requests.append((params, dict(request.headers)))
        if self.refuse_next:
            return Response(status_code=self.refuse_next.pop(0), headers={"message": "Request forbidden by rate limit"})
        start, per_page = int(params.get("startIndex", 0)), int(params.get("resultsPerPage", 2000))
        if per_page > 2000:
            return Response(status_code=404, headers={"message": "resultsPerPage must be at most 2000"})
        chosen = self.records
        if "lastModStartDate" in params or "lastModEndDate" in params:
            if not ("lastModStartDate" in params and "lastModEndDate" in params):
                return Response(status_code=404, headers={"message": "both lastModStartDate and lastModEndDate"})
            low, high = _nvd_time(params["lastModStartDate"]), _nvd_time(params["lastModEndDate"])
            if high - low > dt.timedelta(days=120):
                return Response(status_code=404, headers={"message": "the date range is over 120 days"})
            chosen = [r for r in self.records if low <= _nvd_time(r["lastModified"]) <= high]
        page = chosen[start:start + per_page]
        return JSONResponse({
            "resultsPerPage": len(page), "startIndex": start, "totalResults": len(chosen), "format": "NVD_CVE",
            "version": "2.0", "timestamp": "2026-12-01T00:00:00.000", "vulnerabilities": [{"cve": r} for r in page],
        })


@pytest.fixture
def nvd(shared_data) -> Iterator[tuple[FakeNvd, str]]:
    records = [json.loads(p.read_bytes()) for p in sorted((shared_data / "feeds" / "nvd").rglob("CVE-*.json"))]
    fake = FakeNvd(records)
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route(PATH, fake.cves)]), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the fake NVD API did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield fake, f"http://127.0.0.1:{port}{PATH}"
    server.should_exit = True
    thread.join(timeout=10)


class FakeTime:
    """A monotonic clock that moves only when slept on; every pause is recorded."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def updater(url: str, time_: FakeTime, now: dt.datetime, **kwargs: Any) -> NvdApiUpdater:
    return NvdApiUpdater(url, page_size=PAGE, sleep=time_.sleep, clock=time_.clock, now=lambda: now, **kwargs)


def rows(path: Path) -> dict[str, Any]:
    with FeedDB.open(path) as db:
        found = [(a.package, a.record) for a in db.iter_advisories("cve")]
    assert len(found) == len(dict(found))  # one row per CVE
    return dict(found)


def test_a_full_fetch_reads_every_page_and_an_incremental_run_merges_only_changed_records(nvd, shared_data, tmp_path):
    fake, url = nvd
    time_ = FakeTime()
    db = tmp_path / "feeds.db"

    first = build([updater(url, time_, T1)], db, Location())

    assert [int(p["startIndex"]) for p, _ in fake.requests] == list(range(0, 145, PAGE))
    assert all(p["resultsPerPage"] == str(PAGE) and "lastModStartDate" not in p for p, _ in fake.requests)
    assert all("apikey" not in headers for _, headers in fake.requests)
    assert time_.sleeps == [30.0]  # 5 requests in 30 s without a key: the sixth waited for the window
    (source,) = first.sources
    assert (source.name, source.records, source.skipped, source.rows) == ("nvd/cves-api-2.0", 145, 0, 145)
    assert source.etag == T1.isoformat()  # the watermark of the next run, kept in the feed DB
    mirror = tmp_path / "mirror.db"
    build([NvdUpdater(y) for y in years(shared_data / "feeds")], mirror, Location(shared_data / "feeds"))
    before = rows(db)
    assert before == rows(mirror)  # the API's pages give exactly the records of the mirror tree

    # NVD modifies three records 150 days later: one rejected, two re-described.
    changed_at = T1 + dt.timedelta(days=150)
    stamp = changed_at.replace(tzinfo=None).isoformat(timespec="milliseconds")
    by_id = {r["id"]: r for r in fake.records}
    by_id["CVE-2021-3572"].update(vulnStatus="Rejected", metrics={}, lastModified=stamp)
    for cve_id in ("CVE-2024-6923", "CVE-2019-12760"):
        by_id[cve_id]["descriptions"] = [{"lang": "en", "value": f"{cve_id} described again"}]
        by_id[cve_id]["lastModified"] = stamp
    fake.requests.clear()
    t2 = T1 + dt.timedelta(days=200)

    second = build([updater(url, time_, t2)], db, Location())

    asked = [(p["lastModStartDate"], p["lastModEndDate"], p["startIndex"]) for p, _ in fake.requests]
    middle = api_time(T1 + MAX_WINDOW)
    assert asked == [(api_time(T1), middle, "0"), (middle, api_time(t2), "0")]  # two windows of <= 120 days
    after = rows(db)
    assert second.rebuilt and second.sources[0].rows == 145 and second.sources[0].etag == t2.isoformat()
    assert after["CVE-2021-3572"].status == "Rejected" and after["CVE-2021-3572"].cvss == ()
    assert after["CVE-2024-6923"].description == "CVE-2024-6923 described again"
    changed = {"CVE-2021-3572", "CVE-2024-6923", "CVE-2019-12760"}
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}

    fake.requests.clear()
    third = build([updater(url, time_, t2 + dt.timedelta(days=1))], db, Location())
    assert len(fake.requests) == 1 and fake.requests[0][0]["lastModStartDate"] == api_time(t2)
    assert not third.rebuilt and third.build_id == second.build_id  # nothing modified: the DB is kept

    fake.requests.clear()  # a clock set back before the watermark asks for nothing, and keeps the watermark
    skewed = build([updater(url, time_, T1)], db, Location())
    assert fake.requests == [] and not skewed.rebuilt and skewed.sources[0].etag == t2.isoformat()


def test_the_api_key_goes_in_its_header_and_raises_the_rate_limit(nvd, tmp_path):
    fake, url = nvd
    time_ = FakeTime()
    build([updater(url, time_, T1, api_key="a-test-key")], tmp_path / "feeds.db", Location())
    assert len(fake.requests) == 8 and all(h.get("apikey") == "a-test-key" for _, h in fake.requests)
    assert time_.sleeps == []  # 8 requests are within the keyed limit of 50 per 30 s


def test_a_throttled_answer_is_retried_after_a_growing_pause_and_said_in_the_log(nvd, tmp_path, caplog):
    fake, url = nvd
    fake.refuse_next = [403, 503]
    time_ = FakeTime()
    with caplog.at_level(logging.WARNING, logger="crscan.vulndb.nvd_api"):
        report = build([updater(url, time_, T1, api_key="k")], tmp_path / "feeds.db", Location())
    assert report.sources[0].rows == 145
    assert [p["startIndex"] for p, _ in fake.requests[:3]] == ["0", "0", "0"]  # the same page, asked again
    assert time_.sleeps == [6.0, 12.0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("answered HTTP 403 (Request forbidden by rate limit); retrying in 6 s (retry 1 of 5)" in m
               for m in messages), messages
    assert any("answered HTTP 503" in m and "retrying in 12 s (retry 2 of 5)" in m for m in messages), messages


def test_refused_every_time_is_a_feed_error_and_the_previous_db_stays(nvd, tmp_path):
    fake, url = nvd
    db = tmp_path / "feeds.db"
    first = build([updater(url, FakeTime(), T1)], db, Location())
    fake.refuse_next = [403] * 6
    time_ = FakeTime()
    with pytest.raises(FeedError, match=rf"HTTP 403 .*6 times; an API key \({API_KEY_ENV}\) raises"):
        build([updater(url, time_, T1 + dt.timedelta(days=1))], db, Location())
    assert time_.sleeps[-5:] == [6.0, 12.0, 24.0, 48.0, 96.0]
    with FeedDB.open(db) as kept:
        assert kept.build_id == first.build_id


def test_other_refusals_are_not_retried_and_name_the_request(nvd, tmp_path):
    fake, url = nvd
    time_ = FakeTime()
    with pytest.raises(FeedError, match=r"nvd/cves-api-2\.0: GET http://127\.0\.0\.1:\d+/rest/json/cves/2\.0/v0"
                                        r"\?startIndex=0&resultsPerPage=20 answered HTTP 404$"):
        build([updater(url + "/v0", time_, T1)], tmp_path / "feeds.db", Location())
    assert time_.sleeps == [] and fake.requests == []  # Starlette's own 404: the route was never reached


def test_windows_cover_the_gap_in_ranges_the_api_accepts():
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert windows(start, start + dt.timedelta(days=3)) == [(start, start + dt.timedelta(days=3))]
    cuts = windows(start, start + dt.timedelta(days=365))
    assert len(cuts) == 4 and cuts[0][0] == start and cuts[-1][1] == start + dt.timedelta(days=365)
    assert all(b - a <= MAX_WINDOW for a, b in cuts) and all(x[1] == y[0] for x, y in itertools.pairwise(cuts))
    assert api_time(start) == "2025-01-01T00:00:00.000+00:00"


def test_upstream_builds_take_nvd_from_the_api_with_the_key_from_the_environment(monkeypatch, shared_data):
    monkeypatch.setenv(API_KEY_ENV, " the-key ")
    upstream = [u for u in default_updaters(Location()) if u.feed == "nvd"]
    assert [(type(u), u.upstream_url, u.api_key) for u in upstream] == [
        (NvdApiUpdater, "https://services.nvd.nist.gov/rest/json/cves/2.0", "the-key")]
    assert pickle.loads(pickle.dumps(upstream[0])).api_key == "the-key"  # parsed on the build's process pool
    mirrored = [u for u in default_updaters(Location(shared_data / "feeds")) if u.feed == "nvd"]
    assert mirrored and all(isinstance(u, NvdUpdater) for u in mirrored)
