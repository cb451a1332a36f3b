"""Test images of the rpm distributions, built once per recipe into the test-image cache: those read through a
vendor feed (Amazon Linux 2 and 2023, Oracle Linux 9, Photon OS 4.0 and 5.0, CBL-Mariner 2), those read through OSV
(RHEL/UBI 9, CentOS 7 through Red Hat's records, AlmaLinux 9, Rocky Linux 9, Azure Linux 3, SUSE Linux Enterprise
Server 15 SP3, openSUSE Leap 15.5 and Tumbleweed, Mageia 9, openEuler 22.03 LTS) and those the feeds at hand have no
record of (CentOS Stream 9, which no feed covers; openEuler 22.03 LTS SP1, whose records neither the shared mirror
nor the fixtures hold).

Each is one layer: the distribution's real release files (`os-release`; CentOS 7's vendor files only, as
slimmed images keep them) and an rpm database (SUSE's: the same headers in rpm's NDB `Packages.db`, where SUSE
keeps it, laid out by tests/catalog/rpm/make_fixtures.py as no Debian tool writes NDB) (`var/lib/rpm/rpmdb.sqlite`) that
rpm itself wrote (`rpm --initdb`, then `rpm -i --justdb --nodeps --noscripts`) from packages `rpmbuild` built
with the distribution's package names, epochs, versions and releases, and its source rpm / subpackage split
(kpartx and device-mapper-multipath-libs from device-mapper-multipath, curl-libs from curl, …). The versions
sit on both sides of the fixes in tests/match/testdata's feeds.

Cached under ${CRSCAN_TEST_CACHE:-~/.cache/crscan-tests}/rpmdistros-<hash of RECIPE>; bump "revision" when the
build changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.catalog.rpm.make_fixtures import blobs, write_ndb
from tests.support.images import CACHE_ROOT, SyntheticImage, build_synthetic_images

RELEASE_FILES = Path(__file__).resolve().parents[1] / "catalog" / "distros"

# os-release of amazonlinux:2023.3.20240108, oraclelinux:9 (9.3) and photon:4.0 (photon-release 4.0).
OS_RELEASE = {
    "amzn-2023": """NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.3.20240108"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2028-03-15"
""",
    "ol-9": """NAME="Oracle Linux Server"
VERSION="9.3"
ID="ol"
ID_LIKE="fedora"
VARIANT="Server"
VARIANT_ID="server"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Oracle Linux Server 9.3"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:oracle:linux:9:3:server"
HOME_URL="https://linux.oracle.com/"
BUG_REPORT_URL="https://github.com/oracle/oracle-linux"

ORACLE_BUGZILLA_PRODUCT="Oracle Linux 9"
ORACLE_BUGZILLA_PRODUCT_VERSION=9.3
ORACLE_SUPPORT_PRODUCT="Oracle Linux"
ORACLE_SUPPORT_PRODUCT_VERSION=9.3
""",
    # openEuler 22.03 LTS's (openEuler-release 22.03; its SP1 image's file, tests/catalog/distros, differs only in
    # the VERSION qualifier).
    "openeuler-22.03-lts": """NAME="openEuler"
VERSION="22.03 (LTS)"
ID="openEuler"
VERSION_ID="22.03"
PRETTY_NAME="openEuler 22.03 (LTS)"
ANSI_COLOR="0;31"
""",
    "photon-4": """NAME="VMware Photon OS"
VERSION="4.0"
ID=photon
VERSION_ID=4.0
PRETTY_NAME="VMware Photon OS/Linux"
ANSI_COLOR="1;34"
HOME_URL="https://vmware.github.io/photon/"
BUG_REPORT_URL="https://github.com/vmware/photon/issues"
""",
}

# The images whose release files are a tree of tests/catalog/distros (real images' files, sources in its README).
RELEASE_TREES = {
    "amzn-2": "amazonlinux-2", "rhel-9": "ubi-9", "almalinux-9": "almalinux-9", "rocky-9": "rocky-9",
    "azurelinux-3": "azurelinux-3", "centos-7": "centos-7-vendor-only", "centos-stream-9": "centos-stream-9",
    "mariner-2": "cbl-mariner-2", "sles-15": "sles-15.3", "opensuse-leap-15": "opensuse-leap-15.5",
    "mageia-9": "mageia-9", "openeuler-22.03": "openeuler-22.03-sp1", "photon-5": "photon-5",
    "opensuse-tumbleweed": "opensuse-tumbleweed",
}
# SUSE keeps its rpm database in NDB format at the path below (SLE 15 SP3, Leap 15.5 and Tumbleweed images do).
NDB_IMAGES = ("sles-15", "opensuse-leap-15", "opensuse-tumbleweed")


def release_files(image: str) -> dict[str, str]:
    """Path in the root filesystem -> text of the image's release files."""
    if image in OS_RELEASE:
        return {"etc/os-release": OS_RELEASE[image]}
    tree = RELEASE_FILES / RELEASE_TREES[image]
    return {str(path.relative_to(tree)): path.read_text() for path in sorted(tree.rglob("*")) if path.is_file()}


# Per image, per source rpm: (epoch, version, release, binary packages). The first binary is the spec's main
# package; the others are subpackages (`-n` names when they do not start with the source name).
SOURCES: dict[str, dict[str, tuple[str, str, str, tuple[str, ...]]]] = {
    "amzn-2023": {
        "rsyslog": ("", "8.2204.0", "2.amzn2023.0.1", ("rsyslog", "rsyslog-logrotate")),  # before ALAS2023-2023-001
        "device-mapper-multipath": ("", "0.8.7", "16.amzn2023.0.1", ("kpartx",)),  # fixed by ALAS2023-2023-126
        "device-mapper-multipath-old": ("", "0.8.7", "15.amzn2023", ("device-mapper-multipath-libs",)),
        "openssl": ("1", "3.0.8", "1.amzn2023.0.3", ("openssl-libs",)),  # an epoch, no advisory in the fixture
    },
    # Amazon Linux 2's kernel of its 2017.12 release candidate, before ALAS2-2018-939, and perf at that fix.
    "amzn-2": {
        "kernel": ("", "4.9.62", "10.57.amzn2", ("kernel",)),
        "kernel-new": ("", "4.9.76", "38.79.amzn2", ("perf",)),
    },
    "ol-9": {
        "java-11-openjdk": ("1", "11.0.24.0.8", "3.0.1.el9", ("java-11-openjdk-headless",)),  # before ELSA-2024-8121
        "java-11-openjdk-new": ("1", "11.0.25.0.9", "2.0.1.el9", ("java-11-openjdk",)),  # its fixed build
        "openssl": ("1", "3.0.7", "24.0.1.el9", ("openssl-libs",)),
    },
    "photon-4": {
        "curl": ("", "7.86.0", "2.ph4", ("curl", "curl-libs")),  # before the CVE-2023-38545/38546 fixes
        "nghttp2": ("", "1.57.0", "1.ph4", ("nghttp2",)),  # the fixed build
        "httpd": ("", "2.4.57", "1.ph4", ("httpd",)),  # "Not Affected" in Photon's data
    },
    # UBI 9.3's openssl and sudo builds, before RHSA-2024:2447 and RHSA-2025:9978; openssl-devel at its fix; a
    # nodejs:20 module build, older than the nodejs:22 fix of RHSA-2026:76750 but of another stream.
    "rhel-9": {
        "openssl": ("1", "3.0.7", "24.el9", ("openssl", "openssl-libs")),
        "openssl-new": ("1", "3.0.7", "27.el9", ("openssl-devel",)),
        "sudo": ("", "1.9.5p2", "10.el9_3", ("sudo",)),
        "nodejs": ("1", "20.19.5", "1.module+el9.6.0+23000+4e5f6a7b", ("nodejs",)),
    },
    # AlmaLinux 9.3's openssl before ALSA-2024:2447 (openssl-devel), and openssl-perl at its fix.
    "almalinux-9": {
        "openssl": ("1", "3.0.7", "24.el9", ("openssl-libs", "openssl-devel")),
        "openssl-new": ("1", "3.0.7", "27.el9", ("openssl-perl",)),
    },
    # Rocky 9.2's libtiff before RLSA-2023:3711, and libtiff-tools at its fix.
    "rocky-9": {
        "libtiff": ("", "4.4.0", "7.el9", ("libtiff", "libtiff-devel")),
        "libtiff-new": ("", "4.4.0", "8.el9_2", ("libtiff-tools",)),
    },
    # zlib before AZL-35400's fix, and zlib-devel at it.
    "azurelinux-3": {
        "zlib": ("", "1.2.13", "2.azl3", ("zlib",)),
        "zlib-new": ("", "1.3.1", "1.azl3", ("zlib-devel",)),
    },
    # CentOS 7's openssl-libs before RHSA-2023:1335 (matched by Red Hat's RHEL 7 advisories), openssl at its fix.
    "centos-7": {
        "openssl": ("1", "1.0.2k", "25.el7_9", ("openssl-libs",)),
        "openssl-new": ("1", "1.0.2k", "26.el7_9", ("openssl",)),
    },
    # No feed: its scan must say so.
    "centos-stream-9": {"openssl": ("1", "3.0.7", "27.el9", ("openssl-libs",))},
    # Mariner's OVAL names source rpms: openssl's binaries before the CVE-2023-5678 fix, curl's past its fixes,
    # syslinux at the last build its not-patchable CVE-2022-3857 affects.
    "mariner-2": {
        "openssl": ("", "1.1.1k", "27.cm2", ("openssl", "openssl-libs")),
        "curl": ("", "8.5.0", "1.cm2", ("curl", "curl-libs")),
        "syslinux": ("", "6.04", "10.cm2", ("syslinux",)),
    },
    # SLES 15 SP3's openssl-1_1 before SUSE-SU-2022:2251-1 (filed under the Basesystem module), -hmac at its fix.
    "sles-15": {
        "openssl-1_1": ("", "1.1.1d", "150200.11.47.1", ("openssl-1_1", "libopenssl1_1")),
        "openssl-1_1-new": ("", "1.1.1d", "150200.11.48.1", ("libopenssl1_1-hmac",)),
    },
    # Leap 15.5's libopenssl1_1 before SUSE-SU-2025:0345-1, openssl-1_1 at its fix.
    "opensuse-leap-15": {
        "openssl-1_1": ("", "1.1.1l", "150500.17.34.1", ("libopenssl1_1",)),
        "openssl-1_1-new": ("", "1.1.1l", "150500.17.40.1", ("openssl-1_1",)),
    },
    # python3-logilab-common before openSUSE-SU-2024:10400-1's Tumbleweed build; openssl-3 has no record.
    "opensuse-tumbleweed": {
        "openssl-3": ("", "3.1.4", "9.1", ("openssl-3", "libopenssl3")),
        "python-logilab-common": ("", "1.2.2", "1.1", ("python3-logilab-common",)),
    },
    # Mageia's OSV names source rpms: openssl's binaries before MGASA-2025-0069, python-cryptography's at its fix.
    "mageia-9": {
        "openssl": ("", "3.0.13", "1.mga9", ("openssl", "lib64openssl3")),
        "python-cryptography": ("", "39.0.1", "1.1.mga9", ("python3-cryptography",)),
    },
    # openEuler's openssl carries Epoch 1, its OSV records none: its binaries before OESA-2023-1092's 22.03 LTS fix,
    # openssl-devel at it.
    "openeuler-22.03-lts": {
        "openssl": ("1", "1.1.1m", "15.oe2203", ("openssl", "openssl-libs")),
        "openssl-new": ("1", "1.1.1m", "18.oe2203", ("openssl-devel",)),
    },
    # No record for 22.03 LTS SP1 at hand (OESA-2023-1092 fixes 22.03 LTS, another release): its scan must say so.
    "openeuler-22.03": {"openssl": ("1", "1.1.1m", "22.oe2203sp1", ("openssl", "openssl-libs"))},
    # libcap before PHSA-2023-5.0-20, libcap-devel at its fix; openssl has no entry.
    "photon-5": {
        "openssl": ("", "3.0.9", "1.ph5", ("openssl",)),
        "libcap": ("", "2.66", "1.ph5", ("libcap",)),
        "libcap-new": ("", "2.66", "2.ph5", ("libcap-devel",)),
    },
}

# (image, source) -> the modularity label rpmbuild writes into the header of a module stream's packages (build
# ids as in tests/match/test_osv_distros.py).
MODULARITY_LABELS = {("rhel-9", "nodejs"): "nodejs:20:9060020250501000000:rhel9"}

RECIPE = {"revision": 8, "release_files": {image: release_files(image) for image in SOURCES}, "sources": SOURCES,
          "modularity_labels": [[*key, label] for key, label in MODULARITY_LABELS.items()]}


def installed(image: str) -> list[tuple[str, str]]:
    """(name, [epoch:]version-release) of every package the image's rpm database holds."""
    return [(binary, evr) for binary, evr, _ in installed_with_source(image)]


def installed_with_source(image: str) -> list[tuple[str, str, str]]:
    """(name, [epoch:]version-release, source rpm name) of every package the image's rpm database holds."""
    found = []
    for source, (epoch, version, release, binaries) in SOURCES[image].items():
        evr = f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"
        found += [(binary, evr, source.removesuffix("-old").removesuffix("-new")) for binary in binaries]
    return found


def _spec(source: str, epoch: str, version: str, release: str, binaries: tuple[str, ...], label: str = "") -> str:
    """A spec named after the source rpm; each binary is its main package or a `-n` subpackage. A main package
    without files is not built, as with rpmbuild on real specs."""
    name = source.removesuffix("-old").removesuffix("-new")
    lines = ["%global debug_package %{nil}", f"Name: {name}", *([f"Epoch: {epoch}"] if epoch else []),
             f"Version: {version}", f"Release: {release}", *([f"ModularityLabel: {label}"] if label else []),
             "Summary: crscan test package", "License: MIT",
             "%description", "Test fixture."]
    files = []
    for binary in binaries:
        if binary == name:
            files += ["%files", f"/usr/share/crscan/{binary}"]
        else:
            lines += [f"%package -n {binary}", f"Summary: {binary}", f"%description -n {binary}", "Test fixture."]
            files += [f"%files -n {binary}", f"/usr/share/crscan/{binary}"]
    install = ["%install", "mkdir -p %{buildroot}/usr/share/crscan",
               *(f"echo {b} > %{{buildroot}}/usr/share/crscan/{b}" for b in binaries)]
    return "\n".join(lines + install + files) + "\n"


def _rpmdb(image: str, work: Path) -> dict[str, bytes]:
    """The image's rpm database file(s) by path."""
    rpms = []
    for source, (epoch, version, release, binaries) in SOURCES[image].items():
        top = work / source
        top.mkdir(parents=True)
        spec = top / f"{source}.spec"
        label = MODULARITY_LABELS.get((image, source), "")
        spec.write_text(_spec(source, epoch, version, release, binaries, label))
        subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "--target", "x86_64", "-bb", str(spec)],
                       check=True, capture_output=True)
        rpms += sorted((top / "RPMS").rglob("*.rpm"))
    db = work / "db"
    db.mkdir()
    rpm = ["rpm", "--dbpath", str(db), "--define", "_db_backend sqlite"]
    subprocess.run([*rpm, "--initdb"], check=True)
    subprocess.run([*rpm, "-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch", "--ignoreos",
                    *map(str, rpms)], check=True, capture_output=True)
    # Fold the WAL into the file, as rpm's next open would (an image holds the database at rest).
    subprocess.run(["rpm", "--dbpath", str(db), "-qa"], check=True, capture_output=True)
    if image in NDB_IMAGES:
        write_ndb(blobs(db / "rpmdb.sqlite"), work / "Packages.db")
        return {"usr/lib/sysimage/rpm/Packages.db": (work / "Packages.db").read_bytes()}
    return {"var/lib/rpm/rpmdb.sqlite": (db / "rpmdb.sqlite").read_bytes()}


def _files(image: str, scratch: Path) -> dict[str, bytes]:
    files = {path: text.encode() for path, text in release_files(image).items()}
    files |= _rpmdb(image, scratch)
    return files


def build_rpm_images(cache_root: Path = CACHE_ROOT) -> dict[str, SyntheticImage]:
    """The images, built unless the cache holds them; safe to call from parallel processes."""
    return build_synthetic_images("rpmdistros", RECIPE, SOURCES, _files, cache_root)
