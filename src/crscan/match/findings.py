"""What every matcher shares: cached version parsing (the feed DB's compiling's, so both share one cache) and
filling a Finding from a package."""

from __future__ import annotations

from functools import lru_cache

from crscan.model import Distro, Finding, Package, Severity, finding_status
from crscan.vulndb.compiled import parsed as parsed
from crscan.vulndb.compiled import unorderable as unorderable
from crscan.vulndb.severity import cvss_base_score

# Packages whose rows a matcher reads and decodes at once, freeing each chunk's before the next: a whole
# namespace's rows decoded up front would live long enough for the cyclic collector to walk them repeatedly.
ROWS_AT_ONCE = 250


@lru_cache(maxsize=1 << 16)
def _cvss_score(vector: str) -> float | None:
    return cvss_base_score(vector)


def installed_version(package: Package) -> str:
    """OS advisories are keyed by source package, so compare the source version (binNMUs differ)."""
    return package.source_version or package.version if package.ecosystem.is_os else package.version


def advisory_identity(package: Package, distro: Distro | None) -> tuple[str, str]:
    """The (name, version) a feed's advisories name the package by: the source package and its version for
    deb and apk (apk's origin), the binary rpm with its epoch where the distro's feeds list binaries; the version
    without its epoch where the records write none (Mageia, openEuler)."""
    if not package.ecosystem.is_os:
        return package.name, package.version
    facts = distro.facts if distro is not None else None
    if facts is not None and facts.by_binary:
        return package.name, package.version
    version = installed_version(package)
    if facts is not None and facts.epochless_records:
        version = version.partition(":")[2] or version
    return package.source_name or package.name, version


def make_finding(
    package: Package,
    distro: Distro | None,
    *,
    name: str,
    advisory_id: str,
    link: str,
    fixed_by: str,
    severity: Severity,
    severity_source: str,
    feed: str,
    cvss_vector: str = "",
    aliases: tuple[str, ...] = (),
    status: str = "",
) -> Finding:
    """`status` is the vendor's word for an unfixed vulnerability ("will_not_fix"); "fixed" or "affected" by
    default."""
    if package.ecosystem.is_os:
        origin, kind = "os", distro.id if distro else package.ecosystem.value
    else:
        origin, kind = "lang", package.package_type
    return Finding(
        name=name,
        advisory_id=advisory_id,
        link=link,
        package=package.name,
        source=package.ecosystem.value,
        version=package.version,
        fixed_by=fixed_by,
        origin=origin,
        type=kind,
        severity=severity,
        severity_source=severity_source,
        feed=feed,
        layer=package.layer,
        path=package.path,
        aliases=aliases,
        cvss_vector=cvss_vector,
        cvss_score=_cvss_score(cvss_vector) if cvss_vector else None,
        status=finding_status(fixed_by, status),
    )
