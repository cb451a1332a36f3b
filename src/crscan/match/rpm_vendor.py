"""The vendor rpm feeds (Amazon ALAS, Oracle ELSA, Photon, CBL-Mariner OVAL): per release and rpm, the fixed builds.

An installed rpm is affected by a fix of its name when its epoch:version-release is older than the fix
under rpm's own ordering (`crscan.versions` rpm: epoch, `~`/`^`, release), and by a row with no fix (Mariner's
not-patchable definitions) when it is at or below the last affected build: a finding with an empty `fixed_by`
and status "affected", which `--ignore-unfixed` hides. Amazon, Oracle and Photon list
binary rpms, so the installed package's own name and version are compared; Mariner's OVAL names source rpms
only, so there the package's source rpm and its version are.

Oracle's special builds follow Trivy's Oracle rules: a Ksplice build (`.ksplice1.` in the release) is
compared only with Ksplice fixes and a FIPS build (`_fips`) only with FIPS fixes, since their release
numbers run apart from the regular builds'. `.el8_9`-style releases are ordinary rpm releases. A fix stated
for a module stream applies only to modular builds (`.module+el8…` in the release): the rpm database does not
say which stream is enabled, so regular packages are not compared with module fixes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from crscan.match.findings import installed_version, make_finding, parsed, unorderable
from crscan.match.interface import Match, Matcher, Unordered
from crscan.model import Distro, Ecosystem, Package
from crscan.vulndb import FeedDB, namespaces
from crscan.vulndb.records import RpmFix

_SCHEME = "rpm"


def _major(version_id: str) -> str:
    head = version_id.split(".")[0]
    return head if head.isdigit() else ""


def _major_minor(version_id: str) -> str:
    """Photon's and Mariner's files name releases `5.0`, `2.0`; os-release says `5.0` (older images `5`), and
    Mariner's vendor file `2.0.20240123`."""
    parts = version_id.split(".")
    if not parts[0].isdigit():
        return ""
    return f"{parts[0]}.{parts[1] if len(parts) > 1 and parts[1].isdigit() else '0'}"


_ALAS = re.compile(r"^ALAS(2|2023)-(\d{4}-\d+)$")


def alas_link(advisory_id: str) -> str:
    """ALAS pages live per release without the release in the name: ALAS2023-2023-126 -> AL2023/ALAS-2023-126."""
    found = _ALAS.match(advisory_id)
    if found is None:
        return f"https://alas.aws.amazon.com/{advisory_id}.html"
    return f"https://alas.aws.amazon.com/AL{found.group(1)}/ALAS-{found.group(2)}.html"


def _ksplice(release: str) -> str:
    return next((part for part in release.lower().split(".") if part.startswith("ksplice")), "")


def _fips(release: str) -> bool:
    return release.lower().endswith("_fips")


def _release_of(evr: str) -> str:
    return evr.rpartition("-")[2] if "-" in evr else ""


def _modular(release: str) -> bool:
    return ".module+" in release or ".module_" in release


class RpmVendorMatcher(Matcher):
    """One vendor feed: `feed` rows for the distro `distro_id`, the release named by `release_of`."""

    def __init__(self, feed: str, distro_id: str, release_of: Callable[[str], str], link: Callable[[str], str],
                 special_builds: bool = False, by_source: bool = False) -> None:
        self.feed = feed
        self.distro_id = distro_id
        self.release_of = release_of
        self.link = link
        self.special_builds = special_builds  # Oracle's Ksplice/FIPS builds
        self.by_source = by_source  # the feed names source rpms (Mariner)

    def namespaces(self, distro: Distro) -> tuple[str, ...]:
        release = self.release_of(distro.version_id) if distro.id == self.distro_id else ""
        return (namespaces.rpm_vendor(self.feed, release),) if release else ()

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match | Unordered]:
        if distro is None or not (found := self.namespaces(distro)):
            return
        ours = [p for p in packages if p.ecosystem is Ecosystem.RPM]
        rows = db.advisories_for(found[0], (self._name(p) for p in ours))
        for package in ours:
            advisories = rows.get(self._name(package), ())
            version = installed_version(package) if self.by_source else package.version
            installed = parsed(_SCHEME, version)
            if installed is None and advisories:
                yield Unordered(package, _SCHEME, self.feed, unorderable(_SCHEME, version))
                continue
            release = _release_of(version)
            for advisory in advisories:
                fix: RpmFix = advisory.record  # type: ignore[assignment]
                if not self._applies(package, release, fix):
                    continue
                bound = fix.last_affected or fix.fixed_version
                limit = parsed(_SCHEME, bound)
                if limit is None:
                    yield Unordered(package, _SCHEME, self.feed, unorderable(_SCHEME, bound), advisory.advisory_id)
                    continue
                if installed is None or not (installed <= limit if fix.last_affected else installed < limit):
                    continue
                finding = make_finding(
                    package, distro, name=fix.name, advisory_id=advisory.advisory_id,
                    link=self.link(advisory.advisory_id), fixed_by=fix.fixed_version,
                    status="affected" if fix.last_affected else "",
                    severity=fix.severity, severity_source=fix.severity_source, feed=self.feed,
                )
                # Keyed by the CVE alone: one advisory names several, each its own finding.
                yield Match(package, finding, (fix.name,))

    def _name(self, package: Package) -> str:
        return package.source_name or package.name if self.by_source else package.name

    def _applies(self, package: Package, release: str, fix: RpmFix) -> bool:
        if fix.arch and package.arch not in (fix.arch, "noarch"):
            return False
        if bool(fix.module) != _modular(release):
            return False
        if self.special_builds:
            fixed_release = _release_of(fix.fixed_version)
            if _ksplice(fixed_release) != _ksplice(release) or _fips(fixed_release) != _fips(release):
                return False
        return True


def vendor_matchers() -> tuple[RpmVendorMatcher, ...]:
    return (
        RpmVendorMatcher("amazon", "amzn", _major, alas_link),
        RpmVendorMatcher("oracle", "ol", _major, "https://linux.oracle.com/errata/{}.html".format,
                         special_builds=True),
        RpmVendorMatcher("photon", "photon", _major_minor, "https://nvd.nist.gov/vuln/detail/{}".format),
        RpmVendorMatcher("mariner", "mariner", _major_minor, "https://nvd.nist.gov/vuln/detail/{}".format,
                         by_source=True),
    )
