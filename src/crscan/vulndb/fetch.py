"""One code path that reads a feed file from its upstream URL, a mirror URL or a mirror directory."""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from crscan.vulndb.interface import FeedError, Updater

_CHUNK = 1 << 20
# Feeds are large but finite (OSV's npm all.zip is a few hundred MB); anything beyond this is hostile.
MAX_FEED_BYTES = 4 << 30
_MAX_INDEX_BYTES = 16 << 20


@dataclass(frozen=True)
class Fetched:
    """A feed file made local: `path` is readable until the build's scratch directory goes away."""

    url: str
    path: Path | None  # None when the server said 304 Not Modified
    fingerprint: str  # "sha256:<hex>" of the bytes; unchanged bytes mean an unchanged source
    etag: str  # the validator of the next fetch: an HTTP ETag, or an incremental source's watermark
    fetched_at: str  # RFC 3339 UTC
    # The rows are the records changed since the previous build: they replace that build's rows of the same
    # packages, and its other rows are kept (an incremental source's fetch, see IncrementalUpdater).
    merge: bool = False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tree_fingerprint(root: Path) -> str:
    """A directory source (one file per record) by its files' paths, sizes and modification times: hashing
    hundreds of thousands of small files' bytes on every update would cost more than parsing the changed ones."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "sha256:" + digest.hexdigest()


class IncrementalUpdater(Updater):
    """A source with its own client that can fetch just the records changed since the previous build (an API
    with a modified-since filter), wherever the other sources are read from."""

    @abstractmethod
    def fetch_changes(self, scratch: Path, since: str) -> Fetched:
        """Everything when `since` is "" (a first or forced build), else the changes since that watermark, as
        a `merge` fetch whose `path` is None when nothing changed; `etag` is the next fetch's watermark."""


class Location:
    """Where every source is read from: upstream (None), a mirror URL, or a mirror directory.

    A mirror is laid out like `/work/shared/data/feeds`: each source at its `Updater.name` path.
    """

    def __init__(self, mirror: str | Path | None = None, *, timeout: float = 60.0) -> None:
        self.mirror_dir: Path | None = None
        self.mirror_url: str | None = None
        text = str(mirror) if mirror is not None else None
        if text is None:
            pass
        elif text.startswith(("http://", "https://")):
            self.mirror_url = text.rstrip("/")
        else:
            self.mirror_dir = Path(text)
            if not self.mirror_dir.is_dir():
                raise FeedError(f"mirror directory {text} does not exist or is not a directory")
        self._timeout = timeout
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"Location({self.mirror_dir or self.mirror_url or 'upstream'})"

    def url_of(self, updater: Updater) -> str:
        if self.mirror_dir is not None:
            return str(self.mirror_dir / updater.name)
        if self.mirror_url is not None:
            return f"{self.mirror_url}/{updater.file_name}"
        return updater.upstream_url

    def fetch(self, updater: Updater, scratch: Path, *, etag: str = "") -> Fetched | None:
        """Make the source local under `scratch`; None when it does not exist (404, missing file).

        With `etag` from the previous build, an HTTP source may answer 304 and is not downloaded.
        """
        if isinstance(updater, IncrementalUpdater):
            return updater.fetch_changes(scratch, since=etag)
        if self.mirror_dir is not None:
            return self._read_file(updater)
        return self._download(updater, scratch, etag)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _read_file(self, updater: Updater) -> Fetched | None:
        assert self.mirror_dir is not None
        path = self.mirror_dir / updater.name
        if not path.exists():
            path = self.mirror_dir / updater.file_name
        if path.is_dir():
            return Fetched(str(path), path, _tree_fingerprint(path), "", _now())
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise FeedError(f"{updater.name}: cannot read {path}: {exc.strerror or exc}") from exc
        return Fetched(str(path), path, "sha256:" + digest.hexdigest(), "", _now())

    def _download(self, updater: Updater, scratch: Path, etag: str) -> Fetched | None:
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout, follow_redirects=True)
        url = self.url_of(updater) if self.mirror_url is not None else updater.resolve_upstream(
            lambda index: self._get_index(updater, index))
        headers = {"If-None-Match": etag} if etag else {}
        target = scratch / updater.name.replace("/", "_")
        digest = hashlib.sha256()
        size = 0
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 404:
                    return None
                if response.status_code == 304:
                    return Fetched(url, None, "", etag, _now())
                if response.status_code != 200:
                    raise FeedError(f"{updater.name}: GET {url} answered HTTP {response.status_code}")
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(_CHUNK):
                        size += len(chunk)
                        if size > MAX_FEED_BYTES:
                            raise FeedError(f"{updater.name}: {url} is larger than {MAX_FEED_BYTES} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                new_etag = response.headers.get("ETag", "")
        except httpx.HTTPError as exc:
            raise FeedError(f"{updater.name}: cannot fetch {url}: {exc}") from exc
        return Fetched(url, target, "sha256:" + digest.hexdigest(), new_etag, _now())

    def _get_index(self, updater: Updater, url: str) -> bytes:
        """A small index file an updater reads to find its feed (bounded: an index is kilobytes)."""
        assert self._client is not None
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise FeedError(f"{updater.name}: cannot fetch {url}: {exc}") from exc
        if response.status_code != 200:
            raise FeedError(f"{updater.name}: GET {url} answered HTTP {response.status_code}")
        if len(response.content) > _MAX_INDEX_BYTES:
            raise FeedError(f"{updater.name}: {url} is larger than {_MAX_INDEX_BYTES} bytes")
        return response.content

