"""Plain data shared by every stage of the pipeline.

Nothing here imports from the rest of crscan; every other package may import this module.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """The API's six severity levels; values equal the proto's `Vulnerability.Severity` numbers."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4
    NEGLIGIBLE = 5
    UNDEFINED = 6


@dataclass(frozen=True)
class EcosystemFacts:
    """What crscan knows about a package ecosystem, kept in this one table (see `Ecosystem`)."""

    scheme: str  # the `crscan.versions` scheme its versions compare by
    is_os: bool = False  # OS packages: advisories are keyed by source package and distro release
    osv: str = ""  # OSV's ecosystem name for language packages; OS packages take their distro's (`DistroFacts.osv`)
    # The API's `type` of a language package's findings, in Trivy's names (its `LangType`s: what the real
    # service shows); OS findings name the distro. `package_type_by_file` overrides it by the name of the file
    # the package was read from, where one ecosystem has several sources (Cargo.lock vs a binary).
    package_type: str = ""
    package_type_by_file: Mapping[str, str] = field(default_factory=dict)


class Ecosystem(str, enum.Enum):
    """Package ecosystems; the value is the `PackageVulnerability.source` name the API reports.

    Each member carries its `EcosystemFacts`; a new ecosystem is one line here (plus its cataloger).
    """

    facts: EcosystemFacts

    # `facts` is optional only to the type checker, which reads `Ecosystem("pip")` (a lookup by value) as a
    # call of this member-defining constructor; every member passes its facts.
    def __new__(cls, value: str, facts: EcosystemFacts | None = None) -> Ecosystem:
        assert facts is not None, f"ecosystem {value!r} defined without its facts"
        member = str.__new__(cls, value)
        member._value_ = value
        member.facts = facts
        return member

    DPKG = "dpkg", EcosystemFacts("deb", is_os=True)
    APK = "apk", EcosystemFacts("apk", is_os=True)
    RPM = "rpm", EcosystemFacts("rpm", is_os=True)
    PYPI = "pip", EcosystemFacts("pypi", osv="PyPI", package_type="python-pkg")  # dist-info/egg-info
    NPM = "npm", EcosystemFacts(
        "semver", osv="npm", package_type="node-pkg",  # node_modules/**/package.json
        package_type_by_file={"package-lock.json": "npm", "yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm"},
    )
    GO = "gomod", EcosystemFacts("go", osv="Go", package_type="gobinary")
    CARGO = "cargo", EcosystemFacts(
        "semver", osv="crates.io", package_type="rustbinary",  # cargo-auditable data in a binary
        package_type_by_file={"Cargo.lock": "cargo"},
    )
    MAVEN = "maven", EcosystemFacts("maven", osv="Maven", package_type="jar")
    GEM = "gem", EcosystemFacts("rubygems", osv="RubyGems", package_type="gemspec")
    # vendor/composer/installed.json is Trivy's "composer-vendor"; "composer" is its composer.lock.
    COMPOSER = "composer", EcosystemFacts(
        "composer", osv="Packagist", package_type="composer-vendor",
        package_type_by_file={"composer.lock": "composer"},
    )
    NUGET = "nuget", EcosystemFacts("nuget", osv="NuGet", package_type="dotnet-core")  # *.deps.json

    @property
    def is_os(self) -> bool:
        return self.facts.is_os


class ReleaseKey(enum.Enum):
    """How a feed names a distro release, derived from the detected version (os-release's VERSION_ID)."""

    MAJOR = "major"  # "12.4" -> "12" (Debian, the Enterprise Linux rebuilds, Azure Linux, Mageia)
    VERSION = "version"  # "22.04" as is (Ubuntu, openSUSE Leap, openEuler's "22.03-LTS-SP1")
    V_MAJOR_MINOR = "v-major.minor"  # "3.18.4" -> "v3.18" (Alpine); "" unless both parts are numbers
    SERVICE_PACK = "service-pack"  # "15.5" -> "15 SP5", "15" -> "15" (SUSE Linux Enterprise)
    ROLLING = "rolling"  # one stream without releases (Wolfi, Chainguard, Tumbleweed): always "-"

    def of(self, version_id: str) -> str:
        """The release's name in this form; "" when VERSION_ID does not have it."""
        if self is ReleaseKey.ROLLING:
            return "-"
        if not version_id:
            return ""
        if self is ReleaseKey.MAJOR:
            return version_id.split(".")[0]
        if self is ReleaseKey.VERSION:
            return version_id
        parts = version_id.split(".")
        if self is ReleaseKey.SERVICE_PACK:
            if not parts[0].isdigit():
                return ""
            service_pack = parts[1] if len(parts) >= 2 and parts[1].isdigit() and parts[1] != "0" else ""
            return f"{parts[0]} SP{service_pack}" if service_pack else parts[0]
        return f"v{parts[0]}.{parts[1]}" if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else ""


@dataclass(frozen=True)
class DistroFacts:
    """What crscan knows about a distribution (by os-release ID), kept in the one table `DISTROS`."""

    ecosystem: Ecosystem  # its package manager: the packages its feeds rate
    osv: str  # OSV's ecosystem (its all.zip directory): "Debian", "Red Hat"; "" when OSV has none
    osv_release: ReleaseKey
    # Major version -> codename, for images whose os-release lacks VERSION_CODENAME (trackers key by it).
    codenames: Mapping[str, str] = field(default_factory=dict)
    # How OSV's ecosystem string names a release: "Debian:12", "SUSE:Linux Enterprise Server 15 SP5", "Wolfi".
    osv_format: str = "{osv}:{release}"
    # What advisories name: the source package (deb, and apk's origin) or the binary rpm with its epoch.
    by_binary: bool = False
    # Its records write versions as rpm file names do, without the epoch: the installed epoch is left out of the
    # comparison (one package keeps its epoch across a release's builds; `1:` against an epoch-less fix would
    # otherwise never be affected).
    epochless_records: bool = False
    # Release (in `osv_release` form) -> the day its vendor stopped publishing fixes ("YYYY-MM-DD").
    end_of_life: Mapping[str, str] = field(default_factory=dict)
    name: str = ""  # how the report names it

    def codename(self, version: str) -> str:
        """The codename of a release by its version ("12", "12.4"); "" when unknown."""
        return self.codenames.get(version.split(".")[0], "")

    def osv_ecosystem(self, version_id: str) -> str:
        """OSV's ecosystem string for the release ("Ubuntu:22.04"); "" when OSV has none or the release is unknown."""
        release = self.osv_release.of(version_id)
        if not self.osv or not release:
            return ""
        return self.osv_format.format(osv=self.osv, release=release)

    def eol(self, version_id: str) -> str:
        """The end-of-life day of the release; "" when still supported or not known to crscan."""
        return self.end_of_life.get(self.osv_release.of(version_id), "")


_RPM = Ecosystem.RPM
_SLE = "SUSE:Linux Enterprise {release}"

# os-release ID -> facts; a distro missing here gets no distro-feed or OSV distro matching (and a warning).
# End-of-life days are the vendors' published ends of standard support (Debian: of LTS).
DISTROS: Mapping[str, DistroFacts] = {
    "debian": DistroFacts(Ecosystem.DPKG, "Debian", ReleaseKey.MAJOR, {
        "7": "wheezy", "8": "jessie", "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm",
        "13": "trixie", "14": "forky",
    }, end_of_life={"7": "2018-05-31", "8": "2020-06-30", "9": "2022-06-30", "10": "2024-06-30"}, name="Debian"),
    "alpine": DistroFacts(Ecosystem.APK, "Alpine", ReleaseKey.V_MAJOR_MINOR, name="Alpine Linux"),
    "ubuntu": DistroFacts(Ecosystem.DPKG, "Ubuntu", ReleaseKey.VERSION, end_of_life={
        "14.04": "2019-04-30", "16.04": "2021-04-30", "18.04": "2023-05-31", "20.04": "2025-05-31",
        "23.04": "2024-01-25", "23.10": "2024-07-11", "24.10": "2025-07-10",
    }, name="Ubuntu"),
    "wolfi": DistroFacts(Ecosystem.APK, "Wolfi", ReleaseKey.ROLLING, osv_format="{osv}", name="Wolfi"),
    "chainguard": DistroFacts(Ecosystem.APK, "Chainguard", ReleaseKey.ROLLING, osv_format="{osv}", name="Chainguard"),
    "rhel": DistroFacts(_RPM, "Red Hat", ReleaseKey.MAJOR, osv_format="{osv}:enterprise_linux:{release}",
                        by_binary=True, name="Red Hat Enterprise Linux"),
    "almalinux": DistroFacts(_RPM, "AlmaLinux", ReleaseKey.MAJOR, by_binary=True, name="AlmaLinux"),
    "rocky": DistroFacts(_RPM, "Rocky Linux", ReleaseKey.MAJOR, by_binary=True, name="Rocky Linux"),
    "sles": DistroFacts(_RPM, "SUSE", ReleaseKey.SERVICE_PACK, osv_format=_SLE.format(release="Server {release}"),
                        by_binary=True, name="SUSE Linux Enterprise Server"),
    "sle_hpc": DistroFacts(_RPM, "SUSE", ReleaseKey.SERVICE_PACK,
                           osv_format=_SLE.format(release="High Performance Computing {release}"), by_binary=True,
                           name="SUSE Linux Enterprise High Performance Computing"),
    "sled": DistroFacts(_RPM, "SUSE", ReleaseKey.SERVICE_PACK, osv_format=_SLE.format(release="Desktop {release}"),
                        by_binary=True, name="SUSE Linux Enterprise Desktop"),
    "sles_sap": DistroFacts(_RPM, "SUSE", ReleaseKey.SERVICE_PACK,
                            osv_format=_SLE.format(release="Server for SAP Applications {release}"), by_binary=True,
                            name="SUSE Linux Enterprise Server for SAP Applications"),
    "opensuse-leap": DistroFacts(_RPM, "openSUSE", ReleaseKey.VERSION, osv_format="{osv}:Leap {release}",
                                 by_binary=True, name="openSUSE Leap"),
    "opensuse-tumbleweed": DistroFacts(_RPM, "openSUSE", ReleaseKey.ROLLING, osv_format="{osv}:Tumbleweed",
                                       by_binary=True, name="openSUSE Tumbleweed"),
    "azurelinux": DistroFacts(_RPM, "Azure Linux", ReleaseKey.MAJOR, by_binary=True, name="Azure Linux"),
    # Mageia's and openEuler's OSV records name the source rpm (OSV's ecosystem definitions say so for openEuler).
    "mageia": DistroFacts(_RPM, "Mageia", ReleaseKey.MAJOR, epochless_records=True, name="Mageia"),
    "openeuler": DistroFacts(_RPM, "openEuler", ReleaseKey.VERSION, epochless_records=True, name="openEuler"),
    # CentOS Linux rebuilt RHEL release by release: its rpms are matched against Red Hat's advisories of the same
    # major release, as Trivy does (Red Hat's fixes reached CentOS as the same builds).
    "centos": DistroFacts(_RPM, "Red Hat", ReleaseKey.MAJOR, osv_format="{osv}:enterprise_linux:{release}",
                          by_binary=True, end_of_life={"6": "2020-11-30", "7": "2024-06-30", "8": "2021-12-31"},
                          name="CentOS"),
    # No OSV bucket: CentOS Stream has no feed (it runs ahead of RHEL, whose fixed builds it does not carry: a scan
    # warns); Amazon, Oracle, Photon and CBL-Mariner are matched by their vendor feeds' own matchers
    # (match/rpm_vendor.py).
    "centos-stream": DistroFacts(_RPM, "", ReleaseKey.MAJOR, by_binary=True, end_of_life={"8": "2024-05-31"},
                                 name="CentOS Stream"),
    "amzn": DistroFacts(_RPM, "", ReleaseKey.MAJOR, by_binary=True,
                        end_of_life={"2018": "2023-12-31", "2": "2026-06-30"}, name="Amazon Linux"),
    "ol": DistroFacts(_RPM, "", ReleaseKey.MAJOR, by_binary=True, name="Oracle Linux"),
    "photon": DistroFacts(_RPM, "", ReleaseKey.MAJOR, by_binary=True, name="Photon OS"),
    "mariner": DistroFacts(_RPM, "", ReleaseKey.MAJOR, end_of_life={"2": "2025-07-31"},  # OVAL: source rpms
                           name="CBL-Mariner"),
}


@dataclass(frozen=True)
class LayerRef:
    """A layer as the manifest (digest, compressed) and the config (diff_id, uncompressed) name it."""

    digest: str
    diff_id: str


@dataclass(frozen=True)
class Distro:
    """The operating system an image is built on, as detected from its release files."""

    id: str  # os-release ID: debian, ubuntu, alpine, rhel, centos, rocky, almalinux, fedora, ...
    version_id: str = ""  # "12", "3.18.4", "9.3"
    codename: str = ""  # "bookworm" (Debian codename derived from the version when os-release lacks it)
    pretty_name: str = ""

    @property
    def facts(self) -> DistroFacts | None:
        return DISTROS.get(self.id)


@dataclass(frozen=True)
class Package:
    """One installed package found in an image."""

    ecosystem: Ecosystem
    name: str
    version: str
    purl: str = ""
    arch: str = ""
    source_name: str = ""  # OS packages: the source package advisories are keyed by
    source_version: str = ""
    path: str = ""  # where in the image it was found (status file, METADATA, package.json, binary)
    layer: LayerRef | None = None  # the layer that introduced it
    files: tuple[str, ...] = field(default=(), compare=False)  # OS packages: files they own (dedup of lang pkgs)
    # As the package metadata declares them: SPDX expressions ("MIT OR Apache-2.0") or free-text names
    # ("BSD License"); empty when the metadata names none or crscan does not read it (dpkg copyright files).
    licenses: tuple[str, ...] = field(default=(), compare=False)

    @property
    def package_type(self) -> str:
        """The API's `type` of a language package: by the file it was read from, else its ecosystem's."""
        facts = self.ecosystem.facts
        return facts.package_type_by_file.get(self.path.rsplit("/", 1)[-1], facts.package_type)


@dataclass(frozen=True)
class AdvisoryDetail:
    """What the vulnerability's records say about it beyond the match: for people triaging, not for matching."""

    description: str = ""
    cwes: tuple[str, ...] = ()
    published: str = ""  # RFC 3339 (NVD's timestamps carry no zone: UTC)
    modified: str = ""
    references: tuple[str, ...] = ()
    cve_status: str = ""  # NVD's vulnStatus of the CVE ("Rejected": the CVE id is withdrawn); "" when unknown
    # NVD's preferred CVSS rating (v3.1 > v3.0 > v4.0 > v2, NVD's own before a CNA's), whichever source won severity.
    nvd_cvss_vector: str = ""
    nvd_cvss_score: float | None = None


@dataclass(frozen=True)
class KevFlag:
    """The vulnerability is in CISA's Known Exploited Vulnerabilities catalog: exploited in the wild."""

    date_added: str  # YYYY-MM-DD
    due_date: str  # YYYY-MM-DD: CISA's remediation deadline for US federal agencies


@dataclass(frozen=True)
class EpssScore:
    """FIRST's EPSS of the vulnerability's CVE: probability of exploitation within 30 days, and its percentile."""

    score: float  # 0..1
    percentile: float  # 0..1
    score_date: str  # the day the scores were computed


@dataclass(frozen=True)
class Finding:
    """One (package, vulnerability) pair; maps onto the API's Vulnerability/PackageVulnerability."""

    name: str  # CVE id when the advisory has one, else the advisory id
    advisory_id: str  # the id in the feed it came from (GHSA-…, PYSEC-…, DSA-…, CVE-…)
    link: str
    package: str
    source: str  # Ecosystem value: dpkg, apk, pip, …
    version: str
    fixed_by: str  # empty when no fix is known
    origin: str  # "os" or "lang"
    type: str  # OS name when origin == "os" (debian, alpine, …), else Trivy's package type (python-pkg, jar, …)
    severity: Severity
    severity_source: str  # where the rating came from: "debian", "ghsa", "cvss_v3", "none", …
    feed: str = ""  # osv, debian, alpine
    layer: LayerRef | None = None
    path: str = ""
    aliases: tuple[str, ...] = ()  # the other ids of the records merged into this finding (GHSA-…, PYSEC-…, DSA-…)
    # The CVSS rating `severity` was taken from ("" / None when the source rates by word: Debian urgency, GHSA).
    cvss_vector: str = ""
    cvss_score: float | None = None
    detail: AdvisoryDetail | None = None
    # Risk signals, by the finding's CVE or any alias: None when the CVE is not in the KEV catalog / has no EPSS.
    kev: KevFlag | None = None
    epss: EpssScore | None = None
    # What the vendor says of the vulnerability in this package, in Trivy's words (`FINDING_STATUSES`): "fixed"
    # when `fixed_by` is set; else the vendor's word for why there is no fix, "affected" when it states none.
    status: str = ""


# A finding's `status`, as Trivy names them (docs/supported-os.md maps each vendor's words onto these); a
# finding is never "not_affected".
FINDING_STATUSES = ("fixed", "affected", "will_not_fix", "fix_deferred", "end_of_life", "under_investigation")


def finding_status(fixed_by: str, stated: str = "") -> str:
    """The status of a finding: "fixed" when it has a fix, else the vendor's stated word, else "affected"."""
    return "fixed" if fixed_by else (stated or "affected")


@dataclass(frozen=True)
class ImageFile:
    """A file picked from an image's final filesystem, with the layer that last wrote it.

    `path` is absolute inside the image ("/var/lib/dpkg/status"); `data` is bounded by the reader's
    single-file limit.
    """

    path: str
    data: bytes
    layer: LayerRef | None = None
    mode: int = 0o644


@dataclass(frozen=True)
class ScanReport:
    """Everything one scan of one image produced: what the CLI renders and the service stores."""

    image: str  # the reference the user gave (registry ref, docker-archive:PATH, oci:PATH)
    digest: str  # resolved manifest digest
    distro: Distro | None
    packages: tuple[Package, ...]
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()
    feed_build_id: str = ""
    layers: tuple[LayerRef, ...] = ()
    # Risk feeds ("KEV", "EPSS") the feed build had no data from: its findings could not carry them. None: unknown.
    missing_risk_feeds: tuple[str, ...] | None = None
