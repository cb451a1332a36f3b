"""NVD's CVE API 2.0 as a source: every CVE on the first build, then only the records modified since the last
successful build, merged over that build's rows.

    GET https://services.nvd.nist.gov/rest/json/cves/2.0?startIndex=N&resultsPerPage=M
        [&lastModStartDate=…&lastModEndDate=…]     header `apiKey: …` when one is set (CRSCAN_NVD_API_KEY)

The API's rules are kept: at most 2,000 results per page; a lastMod range of at most 120 days (a longer gap
since the last build is asked for window by window); at most 5 requests in any 30 s without a key, 50 with
one; a 403 or 503 (NVD's answers when it throttles or is busy) is retried after a growing pause, logged.

The watermark is the time the last successful fetch started. It is kept in the feed DB as the source's
validator (`SourceInfo.etag`, which an HTTP source uses for its ETag), so `--force` or a lost DB starts over
with a full fetch. Each response page is written to the build's scratch directory as it came, then parsed
like any NVD bundle (`nvd.parse_bundle`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from crscan.vulndb import nvd
from crscan.vulndb.fetch import Fetched, IncrementalUpdater
from crscan.vulndb.interface import Advisory, FeedError, Tally

log = logging.getLogger(__name__)

API_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
API_KEY_ENV = "CRSCAN_NVD_API_KEY"
MAX_PAGE_SIZE = 2000
MAX_WINDOW = dt.timedelta(days=120)
RATE_PERIOD_SECONDS = 30.0
REQUESTS_WITHOUT_KEY, REQUESTS_WITH_KEY = 5, 50
RETRIES = 5
FIRST_BACKOFF_SECONDS = 6.0  # doubled on each retry: 6, 12, 24, 48, 96 s
RETRY_STATUSES = (403, 503)
_PAGE_GLOB = "page-*.json"


def _utcnow() -> dt.datetime:  # a module function, so the updater pickles onto the build's process pool
    return dt.datetime.now(dt.UTC)


def api_time(moment: dt.datetime) -> str:
    """The API's extended ISO-8601 form with milliseconds and offset: 2026-07-01T00:00:00.000+00:00."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def windows(since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """[since, until] cut into consecutive ranges of at most MAX_WINDOW (the API refuses longer ones)."""
    cuts = []
    start = since
    while True:
        end = min(start + MAX_WINDOW, until)
        cuts.append((start, end))
        if end >= until:
            return cuts
        start = end


class RateLimit:
    """At most `requests` calls of `wait` in any rolling `period` seconds; waits by `sleep` when over."""

    def __init__(self, requests: int, period: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.requests, self.period = requests, period
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()

    def wait(self) -> None:
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()
        if len(self._sent) >= self.requests:
            self._sleep(self._sent[0] + self.period - now)
            now = self._clock()
            self._sent.popleft()
        self._sent.append(now)


class NvdApiUpdater(IncrementalUpdater):
    """Every CVE NVD has, from its CVE API 2.0, fetched in full once and incrementally after that."""

    feed = "nvd"

    def __init__(
        self,
        url: str = API_URL,
        *,
        api_key: str = "",
        page_size: int = MAX_PAGE_SIZE,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"NVD API page size {page_size} is not within 1..{MAX_PAGE_SIZE}")
        self.url = url
        self.api_key = api_key
        self.page_size = page_size
        self._timeout = timeout
        self._sleep = sleep
        self._now = now
        limit = REQUESTS_WITH_KEY if api_key else REQUESTS_WITHOUT_KEY
        self.rate_limit = RateLimit(limit, RATE_PERIOD_SECONDS, clock, sleep)

    @property
    def name(self) -> str:
        return "nvd/cves-api-2.0"

    @property
    def upstream_url(self) -> str:
        return self.url

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return nvd.parse_bundle(reader, tally, source=self.name)

    def read(self, path: Path, tally: Tally) -> Iterator[Advisory]:
        """The records of the fetched pages, newest page first and each CVE once: adjacent windows share their
        boundary and records move between pages while they are read, so a CVE can come twice; its later copy
        is the current one."""
        if not path.is_dir():
            yield from super().read(path, tally)
            return
        seen: set[str] = set()
        for page in sorted(path.glob(_PAGE_GLOB), reverse=True):
            with page.open("rb") as reader:
                rows = list(self.parse(reader, tally))
            for advisory in reversed(rows):
                if advisory.package in seen:
                    tally.records -= 1  # a copy, not another record
                    continue
                seen.add(advisory.package)
                yield advisory

    def fetch_changes(self, scratch: Path, since: str) -> Fetched:
        started = self._now()
        if since:
            try:
                last = dt.datetime.fromisoformat(since)
            except ValueError:
                raise FeedError(f"{self.name}: stored watermark {since!r} is not a time; run `crscan db update "
                                "--force` for a full fetch") from None
            if last >= started:  # the clock went back since the last build: nothing can be newer than it
                return Fetched(self.url, None, "", since, started.strftime("%Y-%m-%dT%H:%M:%SZ"), merge=True)
            ranges: list[tuple[dt.datetime, dt.datetime] | None] = list(windows(last, started))
        else:
            ranges = [None]  # the whole catalogue
        target = scratch / "nvd-cves-api"
        target.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        pages = records = 0
        headers = {"apiKey": self.api_key} if self.api_key else {}
        with httpx.Client(timeout=self._timeout, headers=headers) as client:
            for window in ranges:
                start_index = 0
                while True:
                    params: dict[str, str | int] = {"startIndex": start_index, "resultsPerPage": self.page_size}
                    if window is not None:
                        params.update(lastModStartDate=api_time(window[0]), lastModEndDate=api_time(window[1]))
                    body = self._get(client, params)
                    count, total = _page_counts(body, self.url)
                    (target / f"page-{pages:06d}.json").write_bytes(body)
                    digest.update(body)
                    pages += 1
                    records += count
                    start_index += count
                    if count == 0 or start_index >= total:
                        break
        log.info("%s: %d records in %d pages (%s)", self.name, records, pages,
                 f"modified since {since}" if since else "full fetch")
        return Fetched(
            url=self.url, path=target if records or not since else None, fingerprint="sha256:" + digest.hexdigest(),
            etag=started.astimezone(dt.UTC).isoformat(), fetched_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            merge=bool(since),
        )

    def _get(self, client: httpx.Client, params: dict[str, str | int]) -> bytes:
        """One page, within the rate limit; 403/503 and connection failures retried after a growing pause."""
        attempt = 0
        while True:
            self.rate_limit.wait()
            try:
                response = client.get(self.url, params=params)
            except httpx.HTTPError as exc:
                problem = f"cannot reach it ({exc})"
            else:
                if response.status_code == 200:
                    return response.content
                reason = response.headers.get("message", "")  # NVD explains refusals in this header
                problem = f"answered HTTP {response.status_code}" + (f" ({reason})" if reason else "")
                if response.status_code not in RETRY_STATUSES:
                    raise FeedError(f"{self.name}: GET {response.request.url} {problem}")
            if attempt == RETRIES:
                hint = "" if self.api_key else f"; an API key ({API_KEY_ENV}) raises NVD's rate limit"
                raise FeedError(f"{self.name}: {self.url} {problem}, {RETRIES + 1} times{hint}")
            pause = FIRST_BACKOFF_SECONDS * 2 ** attempt
            log.warning("%s: %s %s; retrying in %.0f s (retry %d of %d)", self.name, self.url, problem, pause,
                        attempt + 1, RETRIES)
            self._sleep(pause)
            attempt += 1


def _page_counts(body: bytes, url: str) -> tuple[int, int]:
    """(records on this page, totalResults) of an API 2.0 response, or a FeedError saying what it is not."""
    try:
        document: Any = json.loads(body)
    except ValueError as exc:
        raise FeedError(f"NVD API {url}: a page is not JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("vulnerabilities"), list) \
            or not isinstance(document.get("totalResults"), int):
        raise FeedError(f"NVD API {url}: a page without `vulnerabilities` and `totalResults`: not CVE API 2.0")
    return len(document["vulnerabilities"]), document["totalResults"]
