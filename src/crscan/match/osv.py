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
from typing import Any, NamedTuple
from urllib.parse import unquote

from crscan.match.findings import ROWS_AT_ONCE, advisory_identity, identity, make_finding, parsed, unorderable
from crscan.match.interface import Match, Matcher, Unordered
from crscan.match.severity import merged_link
from crscan.model import Distro, Package, Severity
from crscan.versions import Version
from crscan.vulndb import Advisory, FeedDB, namespaces
from crscan.vulndb.osv import MODULE_BUILD
from crscan.vulndb.records import OsvRecord

LINK = "https://osv.dev/vulnerability/{}"
_PACKAGES_CACHED = 4096
_NONE: frozenset[str] = frozenset()


def osv_ecosystem(package: Package, distro: Distro | None) -> str:
    """OSV's ecosystem for the package: its language's (`PyPI`), or for an OS package its distro release's
    (`Debian:12`, `Alpine:v3.18`, `Ubuntu:22.04`); "" when OSV has none."""
    if not package.ecosystem.is_os:
        return package.ecosystem.facts.osv
    facts = distro.facts if distro is not None else None
    if distro is None or facts is None or facts.ecosystem is not package.ecosystem:
        return ""
    return facts.osv_ecosystem(distro.version_id)


# A version's comparison key (`Version.key`): versions of one scheme order as their keys do, and comparing keys
# directly is a tuple comparison in C instead of a Python method call per comparison.
Key = tuple[Any, ...]


# A range's events in version order ("introduced 0" first), as parallel tuples:
#   (kinds: introduced, fixed or last_affected;
#    keys: the events' version keys, None only for "introduced 0";
#    limits: the `limit` events' version keys, None for "limit *";
#    fix_from: per event position, the fix of the interval open there, "" if none).
# A plain tuple rather than a NamedTuple: the cyclic collector stops tracking a plain tuple of strings, None and
# keys after one pass (unless a key holds an object, as PyPI's do), where tens of thousands of cached ranges
# would otherwise be walked on every full collection.
CompiledRange = tuple[tuple[str, ...], tuple[Key | None, ...], tuple[Key | None, ...], tuple[str, ...]]


class CompiledAdvisory(NamedTuple):
    """An advisory row with its versions parsed once, however many installed versions it is checked against.
    Only what matching reads is kept: the row and its decoded record are freed once compiled, so the cache
    holds (and the cyclic collector walks) about half as many objects."""

    advisory_id: str
    name: str  # the record's: its CVE when it has one
    severity: Severity
    severity_source: str
    cvss_vector: str
    streams: tuple[str, ...]  # the module streams an advisory of module builds is about
    ranges: tuple[CompiledRange, ...]  # unreadable ranges dropped
    listed: frozenset[str]  # the explicit `versions`, as written
    fixes: tuple[str, ...]  # every `fixed` version of every range as written, lowest first
    fix_keys: tuple[Key, ...]  # their version keys, for bisection
    ids: tuple[str, ...]  # the advisory's id, its display name and aliases, distinct: what dedup compares
    aliases: tuple[str, ...]  # `ids` but the name, sorted: the finding's aliases unless other records join it
    link: str
    unreadable: str = ""  # why a range was dropped (a version the scheme cannot order); "" if none was
    module: bool = False  # its versions are rpm module builds (`.module+el9…`): it applies to module packages only


class PackageAdvisories:
    """A package's compiled advisories, and every version string any of their lists names.

    The lists decide for those versions; spellings of one version ("2.3", "2.3.0") are the same release.
    Telling spellings apart needs each string's identity, grouped only when a package has variants.
    """

    __slots__ = ("advisories", "_scheme", "_listed", "_identities", "_by_identity")

    def __init__(self, scheme: str, advisories: tuple[CompiledAdvisory, ...]) -> None:
        self.advisories = advisories
        self._scheme = scheme
        self._listed: frozenset[str] = frozenset().union(*(a.listed for a in advisories)) or _NONE
        self._identities = frozenset(map(partial(identity, scheme), self._listed)) or _NONE
        self._by_identity: dict[tuple[object, ...] | str, set[str]] | None = None

    def spellings(self, text: str) -> set[str] | frozenset[str]:
        """The listed strings naming the installed version; empty if no list names it."""
        if text in self._listed and len(self._identities) == len(self._listed):
            return frozenset((text,))  # no version is spelled two ways here
        key = identity(self._scheme, text)
        if key not in self._identities:
            return _NONE
        if self._by_identity is None:
            self._by_identity = {}
            for listed in self._listed:
                self._by_identity.setdefault(identity(self._scheme, listed), set()).add(listed)
        return self._by_identity[key]


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
            version = parsed(scheme, text)
            known = loaded[key]
            spellings = known.spellings(text)
            if version is None and any(c.ranges and not (c.listed and spellings) for c in known.advisories):
                yield Unordered(package, scheme, self.feed, unorderable(scheme, text))
            for compiled in known.advisories:
                if scheme == "rpm" and other_stream(package, compiled):
                    continue
                fixed_by = affected(compiled, version, spellings)
                if fixed_by is None:
                    if compiled.unreadable and version is not None and not (compiled.listed and spellings):
                        yield Unordered(package, scheme, self.feed, compiled.unreadable, compiled.advisory_id)
                    continue
                # Named and linked as `merge` would leave a finding no other record joins: no copy of it there.
                finding = make_finding(
                    package, distro, name=compiled.name, advisory_id=compiled.advisory_id, link=compiled.link,
                    fixed_by=fixed_by, severity=compiled.severity, severity_source=compiled.severity_source,
                    feed=self.feed, cvss_vector=compiled.cvss_vector, aliases=compiled.aliases,
                )
                yield Match(package, finding, compiled.ids)

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
            for start in range(0, len(ordered), ROWS_AT_ONCE):  # a chunk's rows, each package's freed once compiled
                chunk = ordered[start:start + ROWS_AT_ONCE]
                rows = db.advisories_for(namespace, (package for _, _, package in chunk))
                for key in chunk:
                    scheme, _, package = key
                    advisories = tuple(compile_advisory(scheme, a) for a in rows.pop(package, ()))
                    loaded[key] = PackageAdvisories(scheme, advisories)
        with self._lock:
            for namespace_keys in missing.values():
                for key in namespace_keys:
                    self._cache[(db.build_id, *key)] = loaded[key]
            while len(self._cache) > _PACKAGES_CACHED:
                self._cache.popitem(last=False)
        return loaded


def compile_advisory(scheme: str, advisory: Advisory) -> CompiledAdvisory:
    record: OsvRecord = advisory.record  # type: ignore[assignment]  # OSV namespaces hold only OSV rows
    ranges = []
    unreadable = ""
    for osv_range in record.ranges:
        compiled = _compile_range(scheme, osv_range.events)
        if compiled is not None:
            ranges.append(compiled)
        elif not unreadable:
            unreadable = _unreadable(scheme, osv_range.events)
    # Most advisories list no versions: one shared empty set, not thousands of (collector-tracked) ones.
    listed = frozenset(record.versions) if record.versions else _NONE
    # Only a version matched through the list looks its fix up across ranges (`_next_fix`).
    # A `fixed` event's own text is the fix of the interval open at it.
    fixes = sorted(((v, t) for kinds, keys, _, fix_from in ranges for k, v, t in zip(kinds, keys, fix_from, strict=True)
                    if k == "fixed" and v is not None), key=_first) if listed else []
    ids = tuple(dict.fromkeys((advisory.advisory_id, record.name, *record.aliases)))
    aliases = tuple(sorted(i for i in ids if i != record.name))
    link = merged_link(OsvMatcher.feed, record.name, advisory.advisory_id) or LINK.format(advisory.advisory_id)
    module = scheme == "rpm" and any(MODULE_BUILD in text for r in record.ranges for _, text in r.events)
    return CompiledAdvisory(advisory.advisory_id, record.name, record.severity, record.severity_source,
                            record.cvss_vector, record.streams, tuple(ranges), listed,
                            tuple(text for _, text in fixes), tuple(key for key, _ in fixes), ids,
                            aliases, link, unreadable, module)


def module_stream(package: Package) -> str:
    """The module stream ("nodejs:18") of an rpm built for one, from its modularity label; "" otherwise."""
    _, found, rest = package.purl.partition("rpmmod=")
    label = unquote(rest.split("&", 1)[0]) if found else ""
    return ":".join(label.split(":")[:2]) if label.count(":") >= 1 else ""


def other_stream(package: Package, compiled: CompiledAdvisory) -> bool:
    """Whether the advisory is about another build line than the installed rpm: module builds and plain
    builds of one name are separate packages, and a module advisory naming its streams applies to those
    streams only (versions of different streams do not order against each other)."""
    if compiled.module != (MODULE_BUILD in package.version):
        return True
    stream = module_stream(package) if compiled.module and compiled.streams else ""
    return bool(stream) and stream not in compiled.streams


def _first(pair: tuple[Key, str]) -> Key:
    return pair[0]


def _is_unbounded(kind: str, text: str) -> bool:
    """ "introduced 0" (before everything) and "limit *" (after everything) name no version."""
    return (text == "0" and kind == "introduced") or (text == "*" and kind == "limit")


def _unreadable(scheme: str, events: tuple[tuple[str, str], ...]) -> str:
    """Why the first unreadable version of a range cannot be ordered."""
    return next(problem for kind, text in events if not _is_unbounded(kind, text) and (problem := unorderable(scheme, text)))


def _compile_range(scheme: str, events: tuple[tuple[str, str], ...]) -> CompiledRange | None:
    """The range's events in version order ("introduced 0" first); None if any version is unreadable,
    since a range we cannot read cannot be trusted either way."""
    kinds: list[str] = []
    texts: list[str] = []
    keys: list[Key | None] = []
    limits: list[Key | None] = []
    in_order = True
    last: Key | None = None  # the key of the event walked last
    for kind, text in events:
        if _is_unbounded(kind, text):
            key = None
        elif (version := parsed(scheme, text)) is None:
            return None
        else:
            key = version.key
        if kind == "limit":
            limits.append(key)
            continue
        if in_order and kinds and (key is None or (last is not None and key < last)):
            in_order = False
        kinds.append(kind)
        texts.append(text)
        keys.append(key)
        last = key
    if not in_order:  # feeds almost always list events in order already
        walked = [e for e in zip(kinds, texts, keys, strict=True) if e[2] is None] + sorted(
            (e for e in zip(kinds, texts, keys, strict=True) if e[2] is not None), key=_walked_key)
        kinds, texts, keys = [e[0] for e in walked], [e[1] for e in walked], [e[2] for e in walked]
    # The event closing the affected interval a version falls in names its fix; last_affected names none.
    fix_from = [""] * len(kinds)
    upcoming = ""
    for position in range(len(kinds) - 1, -1, -1):
        kind = kinds[position]
        if kind != "introduced":
            upcoming = texts[position] if kind == "fixed" else ""
        fix_from[position] = upcoming
    return tuple(kinds), tuple(keys), tuple(limits), tuple(fix_from)


def _walked_key(event: tuple[str, str, Key | None]) -> Key:
    assert event[2] is not None, "only 'introduced 0' has no version"
    return event[2]


def affected(compiled: CompiledAdvisory, version: Version | None, spellings: set[str] | frozenset[str]) -> str | None:
    """None if the installed version is not affected; else the version that fixes it ("" if none known).

    `spellings`: how the package's version lists write the installed version (empty: none lists it).
    """
    if compiled.listed and spellings:
        return None if compiled.listed.isdisjoint(spellings) else _next_fix(compiled, version)
    if version is None:
        return None
    for compiled_range in compiled.ranges:
        fixed_by = in_range(compiled_range, version)
        if fixed_by is not None:
            return fixed_by
    return None


def in_range(compiled_range: CompiledRange, version: Version) -> str | None:
    """OSV's evaluation of one range: walk the events in version order, affected from an `introduced`
    at or below the version until a `fixed` at or below it or a `last_affected` below it; `limit`s cap
    the range from above. None if not affected, else the `fixed` closing the version's interval ("" when
    the interval ends with last_affected or stays open)."""
    kinds, keys, limits, fix_from = compiled_range
    key = version.key
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


def _next_fix(compiled: CompiledAdvisory, version: Version | None) -> str:
    """For a version matched by the explicit list: the lowest `fixed` above it in any range."""
    if version is None:
        return ""
    position = bisect.bisect_right(compiled.fix_keys, version.key)
    return compiled.fixes[position] if position < len(compiled.fixes) else ""
