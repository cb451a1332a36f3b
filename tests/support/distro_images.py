"""Test images of the non-Debian families, built once per recipe into the test-image cache.

Each is one layer: a root filesystem holding the distribution's real release files (tests/catalog/distros) and a
package database in its tool's real format, with the distribution's real package names and versions:

    wolfi   Wolfi's os-release and an apk `lib/apk/db/installed` whose subpackages (libssl3, ld-linux,
            libcurl-openssl4, …) have an origin (`o:`) other than their name, as Wolfi's are
    chainguard  Chainguard's os-release and an apk `installed` database of the same form, with 2023 builds
            whose versions sit on both sides of the fixes in the Chainguard fixtures (tests/match/testdata)
    ubuntu  Ubuntu 22.04's os-release and a dpkg `var/lib/dpkg/status` whose binaries name their `Source:`
    alpine  Alpine 3.11.0's os-release and an apk `installed` database of its packages, subpackages (ssl_client,
            sqlite-libs, libsasl, libcom_err, …) with their origin, versions on both sides of the v3.11 secdb's fixes

Cached under ${CRSCAN_TEST_CACHE:-~/.cache/crscan-tests}/distros-<hash of RECIPE>; bump "revision" when the
build changes.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from tests.support.images import CACHE_ROOT, SyntheticImage, build_synthetic_images

RELEASE_FILES = Path(__file__).resolve().parents[1] / "catalog" / "distros"

# (name, version, origin): Wolfi package names and versions of 2023 builds (wolfi-dev/os), subpackages with
# their origin package.
WOLFI_PACKAGES = (
    ("wolfi-baselayout", "20230201-r7", "wolfi-baselayout"),
    ("ca-certificates-bundle", "20230506-r0", "ca-certificates"),
    ("glibc", "2.38-r1", "glibc"),
    ("ld-linux", "2.38-r1", "glibc"),
    ("glibc-locale-posix", "2.38-r1", "glibc"),
    ("libcrypto3", "3.1.1-r0", "openssl"),
    ("libssl3", "3.1.1-r0", "openssl"),
    ("zlib", "1.2.13-r4", "zlib"),
    ("libcurl-openssl4", "8.4.0-r0", "curl"),
    ("curl", "8.4.0-r0", "curl"),
    # A subpackage whose origin Wolfi's advisories leave unfixed (samba: pending-upstream-fix, fix-not-planned).
    ("libauth-samba", "4.20.2-r0", "samba"),
)
# (name, version, origin): Chainguard builds on both sides of the fixes its secdb (early 2023) and its OSV record
# CGA-xcpc-gm23-prj9 (2026) name.
CHAINGUARD_PACKAGES = (
    ("chainguard-baselayout", "20230214-r0", "chainguard-baselayout"),
    ("glibc", "2.36-r1", "glibc"),
    ("ld-linux", "2.36-r1", "glibc"),
    ("libcrypto3", "3.0.7-r1", "openssl"),
    ("libssl3", "3.0.7-r1", "openssl"),
    ("zlib", "1.2.13-r0", "zlib"),
    ("libcurl-openssl4", "7.87.0-r0", "curl"),
    ("syncthing", "2.0.14-r0", "syncthing"),
    ("syncthing-fips", "2.0.14-r1", "syncthing-fips"),
)
# (binary, version, source): Ubuntu 22.04 (jammy) packages as of its 2023 updates.
UBUNTU_PACKAGES = (
    ("base-files", "12ubuntu4.4", "base-files"),
    ("libssl3", "3.0.2-0ubuntu1.10", "openssl"),
    ("openssl", "3.0.2-0ubuntu1.10", "openssl"),
    ("ovmf", "2022.02-3ubuntu0.22.04.1", "edk2"),
    ("zlib1g", "1:1.2.11.dfsg-2ubuntu9.2", "zlib"),
    # Ubuntu defers CVE-2016-1585 in apparmor for jammy.
    ("libapparmor1", "3.0.4-2ubuntu2.3", "apparmor"),
)

# (name, version, origin): Alpine 3.11 (aports 3.11-stable) packages; sqlite, cyrus-sasl and e2fsprogs builds
# before the v3.11 secdb's fixes for CVE-2019-19242, CVE-2019-19906 and CVE-2019-5188, the others past theirs.
ALPINE_PACKAGES = (
    ("alpine-baselayout", "3.2.0-r3", "alpine-baselayout"),
    ("musl", "1.1.24-r0", "musl"),
    ("busybox", "1.31.1-r8", "busybox"),
    ("ssl_client", "1.31.1-r8", "busybox"),
    ("zlib", "1.2.11-r3", "zlib"),
    ("sqlite-libs", "3.30.1-r0", "sqlite"),
    ("libsasl", "2.1.27-r4", "cyrus-sasl"),
    ("libcom_err", "1.45.4-r0", "e2fsprogs"),
    ("nghttp2-libs", "1.40.0-r0", "nghttp2"),
    ("expat", "2.2.9-r1", "expat"),
)
# /etc/os-release of alpine:3.11.0.
ALPINE_OS_RELEASE = """NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.11.0
PRETTY_NAME="Alpine Linux v3.11"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://bugs.alpinelinux.org/"
"""

RECIPE = {"revision": 4, "wolfi": WOLFI_PACKAGES, "chainguard": CHAINGUARD_PACKAGES, "ubuntu": UBUNTU_PACKAGES,
          "alpine": [ALPINE_PACKAGES, ALPINE_OS_RELEASE]}


def apk_installed(packages: tuple[tuple[str, str, str], ...], url: str = "https://wolfi.dev",
                  maintainer: str = "Wolfi Maintainers") -> bytes:
    """An apk `installed` database: one stanza per package with the fields apk writes (C: is the Q1-prefixed
    base64 SHA-1 of the control data)."""
    stanzas = []
    baselayout = packages[0][0]
    for name, version, origin in packages:
        checksum = "Q1" + base64.b64encode(hashlib.sha1(f"{name}-{version}".encode()).digest()).decode()
        stanzas.append("\n".join((
            f"C:{checksum}", f"P:{name}", f"V:{version}", "A:x86_64", "S:123456", "I:456789",
            f"T:{name} ({origin})", f"U:{url}", "L:Apache-2.0", f"o:{origin}",
            f"m:{maintainer}", "t:1695052466", "c:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            f"D:{baselayout}" if name != baselayout else "D:", f"F:usr/share/doc/{name}",
            "R:README", "a:0:0:644", "Z:" + checksum,
        )))
    return ("\n\n".join(stanzas) + "\n\n").encode()


def dpkg_status(packages: tuple[tuple[str, str, str], ...]) -> bytes:
    stanzas = []
    for name, version, source in packages:
        lines = [f"Package: {name}", "Status: install ok installed", "Priority: optional", "Section: libs",
                 "Installed-Size: 100", "Maintainer: Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>",
                 "Architecture: amd64"]
        if source != name:
            lines.append(f"Source: {source}")
        lines += [f"Version: {version}", f"Description: {name} from {source}"]
        stanzas.append("\n".join(lines))
    return ("\n\n".join(stanzas) + "\n").encode()


def _files(name: str, _scratch: Path) -> dict[str, bytes]:
    if name in ("wolfi", "chainguard"):
        return {"etc/os-release": (RELEASE_FILES / name / "etc/os-release").read_bytes(),
                "lib/apk/db/installed": apk_installed(WOLFI_PACKAGES if name == "wolfi" else CHAINGUARD_PACKAGES)}
    if name == "alpine":
        return {"etc/os-release": ALPINE_OS_RELEASE.encode(), "etc/alpine-release": b"3.11.0\n",
                "lib/apk/db/installed": apk_installed(ALPINE_PACKAGES, "https://alpinelinux.org",
                                                      "Natanael Copa <ncopa@alpinelinux.org>")}
    return {"etc/os-release": (RELEASE_FILES / "ubuntu-22.04/etc/os-release").read_bytes(),
            "etc/debian_version": (RELEASE_FILES / "ubuntu-22.04/etc/debian_version").read_bytes(),
            "var/lib/dpkg/status": dpkg_status(UBUNTU_PACKAGES)}


def build_distro_images(cache_root: Path = CACHE_ROOT) -> dict[str, SyntheticImage]:
    """The images, built unless the cache holds them; safe to call from parallel processes."""
    return build_synthetic_images("distros", RECIPE, ("wolfi", "chainguard", "ubuntu", "alpine"), _files,
                                  cache_root)
