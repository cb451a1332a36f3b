"""OSV rows compiled for matching when the DB is built: version strings parsed into comparison keys once.

Deciding whether an installed version is in an advisory's ranges is a few tuple comparisons; reading the
advisory's versions into keys to compare with costs far more (parsing, ordering the events), and matching on a
full-size DB reads tens of thousands of rows. So the build compiles every OSV row (`column`) into plain tuples
of strings and ints, stored marshalled next to the row, and matching unpacks them (`unpack`) instead.

Keys are only valid for the code that made them: `fingerprint` names that code (the version schemes, this
module, packaging). A DB compiled under another fingerprint is matched by compiling its rows again (`compile_osv`),
and its OSV sources are parsed again by the next update.
"""

from __future__ import annotations

import hashlib
import marshal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

import packaging

from crscan import versions
from crscan.model import DISTROS, Ecosystem
from crscan.versions.pypi import PypiVersion
from crscan.vulndb.interface import Advisory
from crscan.vulndb.osv import MODULE_BUILD
from crscan.vulndb.records import OsvRecord

_LAYOUT = 1  # of `CompiledOsv` as stored: bump when its fields change

# A version's comparison key (`sort_key`): versions of one scheme order as their keys do, and comparing keys is a
# tuple comparison in C instead of a Python method call per comparison.
Key = tuple[Any, ...]

# A range's events in version order ("introduced 0" first), as parallel tuples:
#   (kinds: introduced, fixed or last_affected;
#    keys: the events' version keys, None only for "introduced 0";
#    limits: the `limit` events' version keys, None for "limit *";
#    fix_from: per event position, the fix of the interval open there, "" if none).
# Plain tuples of strings, ints and None: the cyclic collector stops tracking them after one pass.
CompiledRange = tuple[tuple[str, ...], tuple[Key | None, ...], tuple[Key | None, ...], tuple[str, ...]]


# What matching reads of an OSV row, its versions parsed (the explicit `versions` list stays in its column). A plain
# tuple of strings, ints, None and tuples of them, by the indexes below: marshal stores it as is, and the cyclic
# collector stops tracking such a tuple after one pass, where a full-size DB's match holds tens of thousands.
CompiledOsv = tuple[
    str,  # SCHEME: the version scheme the keys are of
    str,  # NAME: the record's: its CVE when it has one
    int,  # SEVERITY: the `Severity`'s value
    str,  # SEVERITY_SOURCE
    str,  # CVSS_VECTOR
    tuple[str, ...],  # STREAMS: the module streams an advisory of module builds is about
    tuple[CompiledRange, ...],  # RANGES: unreadable ranges dropped
    str,  # UNREADABLE: why a range was dropped (a version the scheme cannot order); "" if none was
    tuple[str, ...],  # FIXES: with a `versions` list, every `fixed` version of every range as written, lowest first
    tuple[Key, ...],  # FIX_KEYS: their version keys, for bisection
    tuple[str, ...],  # IDS: the advisory's id, its display name and aliases, distinct: what dedup compares
    tuple[str, ...],  # ALIASES: `ids` but the name, sorted
    bool,  # MODULE: its versions are rpm module builds (`.module+el9…`): it applies to module packages only
]
SCHEME: Final = 0
NAME: Final = 1
SEVERITY: Final = 2
SEVERITY_SOURCE: Final = 3
CVSS_VECTOR: Final = 4
STREAMS: Final = 5
RANGES: Final = 6
UNREADABLE: Final = 7
FIXES: Final = 8
FIX_KEYS: Final = 9
IDS: Final = 10
ALIASES: Final = 11
MODULE: Final = 12


@lru_cache(maxsize=1 << 16)
def parsed(scheme: str, text: str) -> versions.Version | None:
    """The parsed version, or None when it is not valid in the scheme (the advisory then cannot apply)."""
    try:
        return versions.parse(scheme, text)
    except versions.InvalidVersion:
        return None


@lru_cache(maxsize=1 << 16)
def unorderable(scheme: str, text: str) -> str:
    """Why `text` is not a version of the scheme ("" when it is one): the warning's reason."""
    try:
        versions.parse(scheme, text)
    except versions.InvalidVersion as exc:
        return str(exc)
    return ""


@lru_cache(maxsize=1 << 16)
def key_of(scheme: str, text: str) -> Key | None:
    """The `sort_key` of `text`; None when it is not a version of the scheme. Cached: keys are plain tuples, which
    the cyclic collector stops tracking, and matching compares each listed version's."""
    version = parsed(scheme, text)
    return None if version is None else sort_key(version)


def sort_key(version: versions.Version) -> Key:
    """`version.key` as plain tuples, which marshal can store and C compares: a PEP 440 version's key holds a
    `packaging` Version, whose comparison is Python code. Orders as `version.key` does."""
    key = version.key
    if type(version) is not PypiVersion or version.is_legacy:
        return key
    pep440 = key[1]
    return (key[0], _pep440_key(pep440.epoch, pep440.release, pep440.pre, pep440.post, pep440.dev, pep440.local))


def _pep440_key(epoch: int, release: tuple[int, ...], pre: tuple[str, int] | None, post: int | None,
                dev: int | None, local: str | None) -> Key:
    """PEP 440's order as one tuple: release without trailing zeros; a dev-only release before its pre-releases,
    those (a < b < rc) before the release, post-releases after; dev before what it precedes; a local version
    after the same version without one, its segments' words before numbers."""
    trimmed = release
    while trimmed and trimmed[-1] == 0:
        trimmed = trimmed[:-1]
    if pre is None:
        pre_rank, pre_n = (-1 if post is None and dev is not None else 3), 0
    else:
        pre_rank, pre_n = _PRE_RANK[pre[0]], pre[1]
    suffix = (pre_rank, pre_n, 0 if post is None else 1, post or 0, 1 if dev is None else 0, dev or 0)
    if local is None:
        return epoch, trimmed, suffix
    return epoch, trimmed, suffix, tuple((int(part), "") if part.isdigit() else (-1, part)
                                         for part in local.split("."))


_PRE_RANK = {"a": 0, "b": 1, "rc": 2}


def scheme_of(namespace: str) -> str:
    """The version scheme of an OSV namespace's packages (`osv:PyPI` -> pypi, `osv:Debian:12` -> deb); "" for an
    ecosystem crscan has no packages of."""
    ecosystem = namespace.removeprefix("osv:")
    return _LANGUAGE_SCHEMES.get(ecosystem) or _DISTRO_SCHEMES.get(ecosystem.split(":")[0], "")


_LANGUAGE_SCHEMES = {e.facts.osv: e.facts.scheme for e in Ecosystem if e.facts.osv}
_DISTRO_SCHEMES = {d.osv: d.ecosystem.facts.scheme for d in DISTROS.values() if d.osv}


def compile_osv(scheme: str, advisory_id: str, record: OsvRecord) -> CompiledOsv:
    """The row's versions parsed under `scheme` into ordered ranges (and, with a `versions` list, its fixes)."""
    ranges = []
    unreadable = ""
    for osv_range in record.ranges:
        compiled = _compile_range(scheme, osv_range.events)
        if compiled is not None:
            ranges.append(compiled)
        elif not unreadable:
            unreadable = _unreadable(scheme, osv_range.events)
    # Only a version matched through the list looks its fix up across ranges; a `fixed` event's own text is the
    # fix of the interval open at it.
    fixes = sorted(((v, t) for kinds, keys, _, fix_from in ranges for k, v, t in zip(kinds, keys, fix_from, strict=True)
                    if k == "fixed" and v is not None), key=_first) if record.versions else []
    ids = tuple(dict.fromkeys((advisory_id, record.name, *record.aliases)))
    module = scheme == "rpm" and any(MODULE_BUILD in text for r in record.ranges for _, text in r.events)
    return (scheme, record.name, int(record.severity), record.severity_source, record.cvss_vector, record.streams,
            tuple(ranges), unreadable, tuple(text for _, text in fixes), tuple(key for key, _ in fixes), ids,
            tuple(sorted(i for i in ids if i != record.name)), module)


def column(advisory: Advisory) -> bytes | None:
    """The stored compiled form of a row: OSV rows of a scheme crscan knows; None for any other."""
    if not isinstance(advisory.record, OsvRecord) or not (scheme := scheme_of(advisory.namespace)):
        return None
    return pack(compile_osv(scheme, advisory.advisory_id, advisory.record))


def pack(compiled: CompiledOsv) -> bytes:
    return marshal.dumps(compiled)


def unpack(blob: bytes) -> CompiledOsv:
    """What `pack` stored."""
    compiled: CompiledOsv = marshal.loads(blob)
    return compiled


@cache
def fingerprint() -> str:
    """The fingerprint of the code compiled rows depend on: a DB records the one it was compiled under."""
    digest = hashlib.sha256(f"{_LAYOUT} {packaging.__version__}".encode())
    for source in (*sorted(Path(versions.__file__).parent.glob("*.py")), Path(__file__)):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


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
        elif (key := key_of(scheme, text)) is None:
            return None
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
