"""OSV advisories: ECOSYSTEM/SEMVER ranges and explicit version lists, for language and distro packages.

Which versions an advisory affects: where OSV enumerates them (`versions`, computed per release by the
feed, which also catches backport releases that coarse ranges miss), the list decides for every release
the feed has enumerated for that package in any advisory; a release no list mentions (newer than the
feed's enumeration, or an ecosystem without lists) is decided by the ranges.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import partial
from itertools import compress, repeat
from operator import eq
from urllib.parse import unquote

from crscan.match.findings import ROWS_AT_ONCE, advisory_identity, make_finding, unorderable
from crscan.match.interface import Match, Matcher, Unordered
from crscan.match.severity import merged_link
from crscan.model import Distro, Package, Severity
from crscan.vulndb import Advisory, FeedDB, namespaces
from crscan.vulndb.compiled import (
    ALIASES,
    CVSS_VECTOR,
    FIX_KEYS,
    FIXES,
    IDS,
    MODULE,
    NAME,
    RANGES,
    SCHEME,
    SEVERITY,
    SEVERITY_SOURCE,
    STREAMS,
    UNREADABLE,
    CompiledOsv,
    CompiledRange,
    Key,
    compile_osv,
    key_of,
    pack,
    unpack,
)
from crscan.vulndb.db import CompiledRow
from crscan.vulndb.osv import MODULE_BUILD
from crscan.vulndb.records import OsvRecord

LINK = "https://osv.dev/vulnerability/{}"
_PACKAGES_CACHED = 4096
_NONE: frozenset[str] = frozenset()
_SEVERITIES = {int(level): level for level in Severity}


def osv_ecosystem(package: Package, distro: Distro | None) -> str:
    """OSV's ecosystem for the package: its language's (`PyPI`), or for an OS package its distro release's
    (`Debian:12`, `Alpine:v3.18`, `Ubuntu:22.04`); "" when OSV has none."""
    if not package.ecosystem.is_os:
        return package.ecosystem.facts.osv
    facts = distro.facts if distro is not None else None
    if distro is None or facts is None or facts.ecosystem is not package.ecosystem:
        return ""
    return facts.osv_ecosystem(distro.version_id)


# A package's advisories as the DB stores them: each one's compiled form (`crscan.vulndb.compiled`, marshalled) and,
# parallel, its explicit `versions` list as written, newline-separated. Bytes and strings, which the cyclic collector
# never tracks, however many are cached: each advisory is unpacked while its package is matched, and freed after.
# (Unpacked tuples kept alive would be tracked until a collection of their generation untracks them, nesting level
# by nesting level: on a full-size DB, over a hundred thousand of them, walked by every full collection.)
PackageAdvisories = tuple[tuple[bytes, ...], tuple[str, ...]]


def spellings(scheme: str, lists: Sequence[Sequence[str]], text: str) -> frozenset[str]:
    """The strings of a package's version lists naming the installed version `text`; empty if no list names it.
    The lists decide for those versions; spellings of one version ("2.3", "2.3.0") are the same release."""
    if not any(lists):
        return _NONE
    listed = tuple(frozenset().union(*lists))
    key = key_of(scheme, text)
    if key is None:  # not a version: named only as written
        return frozenset((text,)) if text in listed else _NONE
    # Each listed string's key compared with the installed one's, iterating in C: packages list hundreds.
    return frozenset(compress(listed, map(eq, repeat(key), map(partial(key_of, scheme), listed)))) or _NONE


class OsvMatcher(Matcher):
    feed = "osv"

    def __init__(self) -> None:
        # The DB never changes under a build id, so compiled advisories are cached by it (oldest dropped).
        # One matcher serves every scan thread; the lock guards the cache, not the (pure) compiling.
        self._cache: OrderedDict[tuple[object, ...], PackageAdvisories] = OrderedDict()
        self._lock = threading.Lock()

    def namespaces(self, distro: Distro) -> tuple[str, ...]:
        ecosystem = distro.facts.osv_ecosystem(distro.version_id) if distro.facts else ""
        return (namespaces.osv(ecosystem),) if ecosystem else ()

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match | Unordered]:
        # Parallel lists, not a (package, key) pair each: ten thousand pairs alive through the whole match are
        # ten thousand more objects for every collector pass.
        wanted: list[Package] = []
        keys: list[tuple[str, str, str]] = []
        for package in packages:
            ecosystem = osv_ecosystem(package, distro)
            if ecosystem:
                name, _ = advisory_identity(package, distro)
                wanted.append(package)
                keys.append((package.ecosystem.facts.scheme, namespaces.osv(ecosystem),
                             namespaces.package_key(ecosystem.split(":")[0], name)))
        loaded = self._load(db, set(keys))
        for package, key in zip(wanted, keys, strict=True):
            scheme = key[0]
            _, text = advisory_identity(package, distro)
            version_key = key_of(scheme, text)
            blobs, texts = loaded[key]
            advisories = [unpack(blob) for blob in blobs]
            # The build compiles a namespace's rows under the scheme of its packages (`compiled.scheme_of`).
            assert all(c[SCHEME] == scheme for c in advisories), f"{key} compiled under another scheme"
            lists = [listed.split("\n") if listed else () for listed in texts]
            named = spellings(scheme, lists, text)
            if version_key is None and any(c[RANGES] and not (listed and named)
                                       for c, listed in zip(advisories, lists, strict=True)):
                yield Unordered(package, scheme, self.feed, unorderable(scheme, text))
            for compiled, listed in zip(advisories, lists, strict=True):
                if scheme == "rpm" and other_stream(package, compiled):
                    continue
                fixed_by = affected(compiled, listed, version_key, named)
                advisory_id = compiled[IDS][0]
                if fixed_by is None:
                    if compiled[UNREADABLE] and version_key is not None and not (listed and named):
                        yield Unordered(package, scheme, self.feed, compiled[UNREADABLE], advisory_id)
                    continue
                # Named and linked as `merge` would leave a finding no other record joins: no copy of it there.
                name = compiled[NAME]
                finding = make_finding(
                    package, distro, name=name, advisory_id=advisory_id,
                    link=merged_link(self.feed, name, advisory_id) or LINK.format(advisory_id),
                    fixed_by=fixed_by, severity=_SEVERITIES[compiled[SEVERITY]],
                    severity_source=compiled[SEVERITY_SOURCE], feed=self.feed, cvss_vector=compiled[CVSS_VECTOR],
                    aliases=compiled[ALIASES],
                )
                yield Match(package, finding, compiled[IDS])

    def _load(self, db: FeedDB, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], PackageAdvisories]:
        """Compiled advisories per (scheme, namespace, package): from the cache, the rest in bulk from the DB."""
        loaded = {}
        missing: dict[str, set[tuple[str, str, str]]] = {}
        with self._lock:
            for key in keys:
                hit = self._cache.get((db.build_id, *key))
                if hit is None:
                    missing.setdefault(key[1], set()).add(key)
                else:
                    loaded[key] = hit
        for namespace, namespace_keys in missing.items():
            ordered = sorted(namespace_keys)
            for start in range(0, len(ordered), ROWS_AT_ONCE):  # a chunk's rows at once, each package's then dropped
                chunk = ordered[start:start + ROWS_AT_ONCE]
                rows = db.compiled_for(namespace, (package for _, _, package in chunk))
                for key in chunk:
                    scheme, _, package = key
                    blobs, lists = [], []
                    for row in rows.pop(package, ()):
                        blob, listed = _row(scheme, row)
                        blobs.append(blob)
                        lists.append(listed)
                    loaded[key] = (tuple(blobs), tuple(lists))
        with self._lock:
            for namespace_keys in missing.values():
                for key in namespace_keys:
                    self._cache[(db.build_id, *key)] = loaded[key]
            while len(self._cache) > _PACKAGES_CACHED:
                self._cache.popitem(last=False)
        return loaded


def compile_advisory(scheme: str, advisory: Advisory) -> CompiledOsv:
    """An OSV row compiled here, for rows the DB holds no current compiled form of."""
    record: OsvRecord = advisory.record  # type: ignore[assignment]  # OSV namespaces hold only OSV rows
    return compile_osv(scheme, advisory.advisory_id, record)


def _row(scheme: str, row: CompiledRow | Advisory) -> tuple[bytes, str]:
    """A row as `FeedDB.compiled_for` reads it, as the build stores it: compiled, and its `versions` column."""
    if isinstance(row, Advisory):
        return pack(compile_advisory(scheme, row)), "\n".join(row.record.versions)  # type: ignore[attr-defined]
    blob, versions = row
    return blob, versions or ""


def module_stream(package: Package) -> str:
    """The module stream ("nodejs:18") of an rpm built for one, from its modularity label; "" otherwise."""
    _, found, rest = package.purl.partition("rpmmod=")
    label = unquote(rest.split("&", 1)[0]) if found else ""
    return ":".join(label.split(":")[:2]) if label.count(":") >= 1 else ""


def other_stream(package: Package, compiled: CompiledOsv) -> bool:
    """Whether the advisory is about another build line than the installed rpm: module builds and plain
    builds of one name are separate packages, and a module advisory naming its streams applies to those
    streams only (versions of different streams do not order against each other)."""
    if compiled[MODULE] != (MODULE_BUILD in package.version):
        return True
    stream = module_stream(package) if compiled[MODULE] and compiled[STREAMS] else ""
    return bool(stream) and stream not in compiled[STREAMS]


def affected(compiled: CompiledOsv, listed: Sequence[str], key: Key | None,
             spellings: set[str] | frozenset[str]) -> str | None:
    """None if the installed version (its `sort_key`; None when unreadable) is not affected; else the version
    that fixes it ("" if none known).

    `listed`: the advisory's explicit `versions`; `spellings`: how the package's version lists write the installed
    version (empty: none lists it).
    """
    if listed and spellings:
        return None if spellings.isdisjoint(listed) else _next_fix(compiled, key)
    if key is None:
        return None
    for compiled_range in compiled[RANGES]:
        fixed_by = in_range(compiled_range, key)
        if fixed_by is not None:
            return fixed_by
    return None


def in_range(compiled_range: CompiledRange, key: Key) -> str | None:
    """OSV's evaluation of one range: walk the events in version order, affected from an `introduced`
    at or below the version until a `fixed` at or below it or a `last_affected` below it; `limit`s cap
    the range from above. None if not affected, else the `fixed` closing the version's interval ("" when
    the interval ends with last_affected or stays open)."""
    kinds, keys, limits, fix_from = compiled_range
    if limits and not any(limit is None or key < limit for limit in limits):
        return None
    vulnerable = False
    ends_here = False  # a last_affected equal to the version closed the interval, naming no fix
    for position, kind in enumerate(kinds):
        at = keys[position]
        if at is not None and at > key:
            # Later events cannot change the verdict; the one closing this interval names the fix.
            if not vulnerable:
                return None
            return "" if ends_here else fix_from[position]
        if kind == "introduced":
            vulnerable, ends_here = True, False
        elif kind == "fixed":
            vulnerable = False
        elif kind == "last_affected":
            if at is None or key > at:
                vulnerable = False
            else:
                ends_here = True
    return "" if vulnerable else None


def _next_fix(compiled: CompiledOsv, key: Key | None) -> str:
    """For a version matched by the explicit list: the lowest `fixed` above it in any range."""
    if key is None:
        return ""
    fixes = compiled[FIXES]
    position = bisect.bisect_right(compiled[FIX_KEYS], key)
    return fixes[position] if position < len(fixes) else ""
