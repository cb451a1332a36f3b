"""What the vendor rpm feeds (Amazon ALAS, Oracle ELSA, Photon) share: compressed files and fixes per arch.

Each vendor lists the fixed build of every binary rpm an advisory updates, often once per architecture;
rows keep the arch only where the fixed versions differ between architectures.
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Iterable, Iterator
from typing import IO

from crscan.model import Severity
from crscan.vulndb import namespaces
from crscan.vulndb.interface import Advisory, FeedError
from crscan.vulndb.records import RpmFix

_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"


def decompressed(reader: IO[bytes], source: str) -> IO[bytes]:
    """The file's bytes, gunzipped or bunzipped when its magic says so: upstream serves `.gz`/`.bz2`, a
    mirror may keep them either way."""
    head = reader.read(3)
    reader.seek(0)
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=reader)  # type: ignore[return-value]
    if head.startswith(_BZIP2):
        return bz2.BZ2File(reader)
    return reader


def evr(epoch: str, version: str, release: str) -> str:
    """`epoch:version-release`, the epoch left out when 0 (rpm treats a missing epoch as 0)."""
    return f"{epoch}:{version}-{release}" if epoch and epoch != "0" else f"{version}-{release}"


def fix_rows(
    feed: str,
    release: str,
    advisory_id: str,
    cves: Iterable[str],
    fixes: Iterable[tuple[str, str, str, str]],  # (package, arch, fixed evr, module)
    severity: Severity,
    severity_source: str,
) -> Iterator[Advisory]:
    """One row per (package, arch-or-every-arch, module, CVE)."""
    by_package: dict[tuple[str, str], dict[str, set[str]]] = {}
    for package, arch, fixed, module in fixes:
        by_package.setdefault((package, module), {}).setdefault(fixed, set()).add(arch)
    names = list(dict.fromkeys(cves)) or [advisory_id]
    namespace = namespaces.rpm_vendor(feed, release)
    for (package, module), versions in by_package.items():
        shared = len(versions) == 1
        for fixed, arches in versions.items():
            for arch in ([""] if shared else sorted(arches)):
                for name in names:
                    yield Advisory(feed, namespace, package, advisory_id,
                                   RpmFix(name, fixed, arch, module, severity, severity_source))


def require_xml_root(tag: str, expected: str, source: str) -> None:
    if tag.rsplit("}", 1)[-1] != expected:
        raise FeedError(f"{source}: root element is <{tag}>, not <{expected}>")
