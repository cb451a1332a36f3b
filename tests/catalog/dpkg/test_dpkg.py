"""dpkg: the real status file and file lists of a Debian 12 system (the fixture), and real images' status files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crscan.catalog.distro import detect_distro
from crscan.catalog.dpkg.cataloger import DpkgCataloger
from crscan.catalog.dpkg.parse_status import parse_status
from crscan.model import Ecosystem, LayerRef
from tests.catalog.helpers import TESTDATA_LAYER, file, image_files

TESTDATA = Path(__file__).parent / "testdata"
STATUS = "/var/lib/dpkg/status"


@pytest.fixture(scope="module")
def result():
    files = image_files(TESTDATA)
    return DpkgCataloger().catalog(files, detect_distro(files))


def by_name(packages):
    return {p.name: p for p in packages}


def test_binary_and_source_names_and_versions(result):
    assert result.warnings == ()
    got = {(p.name, p.version, p.arch, p.source_name, p.source_version) for p in result.packages}
    assert got == {
        ("libssl3", "3.0.19-1~deb12u2", "amd64", "openssl", "3.0.19-1~deb12u2"),  # Source: without version
        ("python3-yaml", "6.0-3+b2", "amd64", "pyyaml", "6.0-3"),  # binNMU: source version differs
        ("tzdata", "2025b-0+deb12u2", "all", "tzdata", "2025b-0+deb12u2"),  # no Source: field
        ("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1"),
    }
    assert all(p.ecosystem is Ecosystem.DPKG and p.path == STATUS for p in result.packages)


def test_purls_carry_arch_and_distro(result):
    packages = by_name(result.packages)
    assert packages["zlib1g"].purl == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    assert packages["tzdata"].purl == "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12"


def test_owned_files_come_from_info_lists_including_multiarch_names(result):
    packages = by_name(result.packages)
    assert "/usr/lib/x86_64-linux-gnu/libssl.so.3" in packages["libssl3"].files  # from libssl3:amd64.list
    assert "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA" in packages["python3-yaml"].files
    assert "/usr/share/zoneinfo/Europe/Moscow" in packages["tzdata"].files
    assert "/." not in packages["tzdata"].files
    assert all(p.layer == TESTDATA_LAYER for p in result.packages)


def test_layer_is_the_one_that_wrote_the_package_file_list():
    files = image_files(TESTDATA)
    later = LayerRef("sha256:" + "c" * 64, "sha256:" + "d" * 64)
    files[STATUS] = file(STATUS, files[STATUS].data, later)  # a later layer installed something else
    packages = by_name(DpkgCataloger().catalog(files, detect_distro(files)).packages)
    assert packages["zlib1g"].layer == TESTDATA_LAYER
    del files["/var/lib/dpkg/info/tzdata.list"]
    assert by_name(DpkgCataloger().catalog(files, detect_distro(files)).packages)["tzdata"].layer == later


def test_only_installed_packages_are_reported():
    text = (TESTDATA / "var/lib/dpkg/status").read_text()
    text = text.replace("Package: tzdata\nStatus: install ok installed", "Package: tzdata\nStatus: deinstall ok config-files")
    text = text.replace("Package: zlib1g\nStatus: install ok installed", "Package: zlib1g\nStatus: install ok half-configured")
    assert {p.name for p in parse_status(text.encode())} == {"libssl3", "python3-yaml"}


def test_truncated_status_file_keeps_complete_stanzas_and_warns():
    data = (TESTDATA / "var/lib/dpkg/status").read_bytes()
    cut = data.index(b"Version: 1:1.2.13.dfsg-1")  # the last stanza loses its Version
    result = DpkgCataloger().catalog({STATUS: file(STATUS, data[:cut])})
    assert {p.name for p in result.packages} == {"libssl3", "python3-yaml", "tzdata"}
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(STATUS) and "zlib1g has no Version" in result.warnings[0]


@pytest.mark.parametrize("garbage", [b"\x00\xff\xfe binary junk\n", b"not a field line\nPackage: x\n",
                                     b" leading continuation\n"])
def test_garbage_status_file_is_a_warning_not_a_crash(garbage):
    result = DpkgCataloger().catalog({STATUS: file(STATUS, garbage)})
    assert result.packages == ()
    assert result.warnings and all(w.startswith(STATUS + ":") for w in result.warnings)


def test_invalid_utf8_is_warned_and_packages_still_found():
    data = (TESTDATA / "var/lib/dpkg/status").read_bytes().replace(b"Secure Sockets", b"Secure \xff Sockets")
    result = DpkgCataloger().catalog({STATUS: file(STATUS, data)})
    assert len(result.packages) == 4
    assert result.warnings and "not valid UTF-8" in result.warnings[0]


def test_distroless_status_d_with_md5sums():
    # distroless writes one stanza per package under status.d/, and <name>.md5sums beside it.
    stanza = (TESTDATA / "var/lib/dpkg/status").read_text().split("\n\n")[0]  # libssl3
    stanza = stanza.replace("Status: install ok installed\n", "")  # distroless omits Status
    md5sums = "0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libssl.so.3\n"
    files = {"/var/lib/dpkg/status.d/libssl3": file("/var/lib/dpkg/status.d/libssl3", stanza),
             "/var/lib/dpkg/status.d/libssl3.md5sums": file("/var/lib/dpkg/status.d/libssl3.md5sums", md5sums)}
    (package,) = DpkgCataloger().catalog(files).packages
    assert (package.name, package.source_name, package.path) == ("libssl3", "openssl", "/var/lib/dpkg/status.d/libssl3")
    assert package.files == ("/usr/lib/x86_64-linux-gnu/libssl.so.3",)
    assert package.purl == "pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64"  # no os-release: no distro


def test_wants_selects_dpkg_database_files_only():
    cataloger = DpkgCataloger()
    assert cataloger.wants("/var/lib/dpkg/status", 0o644, 10)
    assert cataloger.wants("/var/lib/dpkg/info/libssl3:amd64.list", 0o644, 10)
    assert cataloger.wants("/var/lib/dpkg/status.d/base-files", 0o644, 10)
    assert not cataloger.wants("/var/lib/dpkg/info/libssl3:amd64.md5sums", 0o644, 10)
    assert not cataloger.wants("/var/lib/dpkg/status-old", 0o644, 10)
    assert not cataloger.wants("/srv/var/lib/dpkg/status", 0o644, 10)


def dpkg_query(admindir: Path) -> set[tuple[str, str, str, str]]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n",
         f"--admindir={admindir}"], check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return {tuple(row[:4]) for row in rows if row[4].strip() == "ii"}


@pytest.mark.parametrize("release", ["bookworm", "bullseye"])
def test_real_status_files_match_dpkg_query(shared_data, tmp_path, release):
    source = shared_data / "feeds/debian/dpkg-status" / release
    shutil.copy(source, tmp_path / "status")
    expected = dpkg_query(tmp_path)
    assert len(expected) > 100
    packages = parse_status(source.read_bytes())
    assert {(p.name, p.version, p.source_name, p.source_version) for p in packages} == expected
