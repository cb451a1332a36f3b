"""rpm: the same two real packages (three binary RPMs) in each rpmdb backend, cross-checked with rpm itself.

Fixtures come from make_fixtures.py (rpmbuild + `rpm -i --justdb`; db5.3_load for Berkeley DB; NDB by layout).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from crscan.catalog.distro import detect_distro
from crscan.catalog.interface import CatalogError
from crscan.catalog.rpm.cataloger import RpmCataloger
from crscan.catalog.rpm.parse_bdb import parse_bdb
from crscan.catalog.rpm.parse_header import parse_header, split_source_rpm
from crscan.catalog.rpm.parse_ndb import parse_ndb
from crscan.catalog.rpm.parse_sqlite import parse_sqlite, sqlite_blobs
from crscan.model import Distro, Ecosystem
from tests.catalog.helpers import TESTDATA_LAYER, file

TESTDATA = Path(__file__).parent / "testdata"
SQLITE = TESTDATA / "var/lib/rpm/rpmdb.sqlite"
BDB = TESTDATA / "var/lib/rpm/Packages"
NDB = TESTDATA / "usr/lib/sysimage/rpm/Packages.db"
EXPECTED = {
    # name, version, arch, source name, source version
    ("crscan-hello", "2:1.2.3-4.el9", "x86_64", "crscan-hello", "2:1.2.3-4.el9"),
    ("crscan-tools", "0.9-1.el9", "noarch", "crscan-tools", "0.9-1.el9"),
    ("crscan-tools-doc", "0.9-1.el9", "noarch", "crscan-tools", "0.9-1.el9"),  # subpackage → its source RPM
}
PARSERS = [(parse_sqlite, SQLITE), (parse_bdb, BDB), (parse_ndb, NDB)]


def summary(packages):
    return {(p.name, p.version, p.arch, p.source_name, p.source_version) for p in packages}


@pytest.mark.parametrize("parse,path", PARSERS, ids=["sqlite", "bdb", "ndb"])
def test_every_backend_yields_the_installed_packages(parse, path):
    warnings: list[str] = []
    packages = parse(path.read_bytes(), "/" + path.relative_to(TESTDATA).as_posix(), None, warnings)
    assert warnings == []
    assert summary(packages) == EXPECTED
    files = {p.name: p.files for p in packages}
    assert files["crscan-hello"] == ("/etc/crscan-hello.conf", "/usr/bin/crscan-hello")
    assert files["crscan-tools-doc"] == ("/usr/share/doc/crscan-tools/README",)


def rpm_query(dbpath: Path, backend: str) -> set[tuple[str, ...]]:
    fmt = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n"
    out = subprocess.run(["rpm", "--define", f"_db_backend {backend}", "--dbpath", str(dbpath), "-qa", "--qf", fmt],
                         check=True, capture_output=True, text=True).stdout
    return {tuple(line.split("\t")) for line in out.splitlines()}


@pytest.mark.skipif(shutil.which("rpm") is None, reason="needs Debian's rpm")
@pytest.mark.parametrize("parse,path,backend", [(parse_sqlite, SQLITE, "sqlite"), (parse_bdb, BDB, "bdb_ro")])
def test_agrees_with_rpm_query(tmp_path, parse, path, backend):
    shutil.copy(path, tmp_path / path.name)  # rpm may touch files next to the database
    expected = rpm_query(tmp_path, backend)
    got = {(p.name, p.version, p.arch) for p in parse(path.read_bytes(), "/x")}
    assert got == {row[:3] for row in expected}
    assert {split_source_rpm(row[3])[0] for row in expected} == {p.source_name for p in parse(path.read_bytes(), "/x")}


def test_cataloger_prefers_one_database_and_sets_purl_and_layer():
    files = {
        "/var/lib/rpm/rpmdb.sqlite": file("/var/lib/rpm/rpmdb.sqlite", SQLITE.read_bytes()),
        "/var/lib/rpm/Packages": file("/var/lib/rpm/Packages", BDB.read_bytes()),  # left behind by a rebuild
        "/etc/os-release": file("/etc/os-release", 'ID="rocky"\nVERSION_ID="9.3"\n'),
    }
    result = RpmCataloger().catalog(files, detect_distro(files))
    assert result.warnings == ()
    assert summary(result.packages) == EXPECTED  # not twice
    hello = next(p for p in result.packages if p.name == "crscan-hello")
    assert hello.purl == "pkg:rpm/rocky/crscan-hello@1.2.3-4.el9?arch=x86_64&distro=rocky-9.3&epoch=2"
    assert hello.path == "/var/lib/rpm/rpmdb.sqlite" and hello.layer == TESTDATA_LAYER
    assert hello.ecosystem is Ecosystem.RPM


def test_gpg_pubkey_pseudo_packages_are_skipped():
    blob = next(sqlite_blobs(SQLITE.read_bytes(), "x"))
    renamed = blob.replace(b"crscan-hello\0", b"gpg-pubkey\0\0\0", 1)
    assert parse_header(blob, "/x").name == "crscan-hello"
    assert parse_header(renamed, "/x") is None


@pytest.mark.parametrize("source_rpm,expected", [
    ("bash-5.1.8-6.el9.src.rpm", ("bash", "5.1.8-6.el9")),
    ("glibc-2.34-60.el9_2.7.src.rpm", ("glibc", "2.34-60.el9_2.7")),
    ("python3.11-3.11.5-1.el9.nosrc.rpm", ("python3.11", "3.11.5-1.el9")),
    ("garbage", ("", "")),
])
def test_split_source_rpm(source_rpm, expected):
    assert split_source_rpm(source_rpm) == expected


def corrupt_page(data: bytes, page: int, at: int, value: bytes) -> bytes:
    page_size = struct.unpack_from("<I", data, 20)[0]
    start = page * page_size + at
    return data[:start] + value + data[start + len(value):]


@pytest.mark.parametrize("mangle,problem", [
    (lambda d: d[:5000], "truncated: metadata names page 5"),
    (lambda d: corrupt_page(d, 1, 20, b"\xff\x7f"), "do not fit the page"),
    (lambda d: corrupt_page(d, 3, 25, b"\x0d"), "in an overflow chain has type 13"),
    (lambda d: corrupt_page(d, 3, 16, struct.pack("<I", 3)), "reaches bad page 3"),  # chain loops on itself
    (lambda d: b"\0" * 4096, "not a Berkeley DB hash database"),
])
def test_corrupt_bdb_pages_are_warnings(mangle, problem):
    warnings: list[str] = []
    packages = parse_bdb(mangle(BDB.read_bytes()), "/var/lib/rpm/Packages", None, warnings)
    assert len(packages) < 3
    assert len(warnings) == 1 and warnings[0].startswith("/var/lib/rpm/Packages: ") and problem in warnings[0]


def test_corrupt_ndb_blob_fails_its_checksum_but_others_survive():
    data = bytearray(NDB.read_bytes())
    data[4096 + 40] ^= 0xFF  # inside the first blob's header data
    warnings: list[str] = []
    packages = parse_ndb(bytes(data), "/usr/lib/sysimage/rpm/Packages.db", None, warnings)
    assert warnings == ["/usr/lib/sysimage/rpm/Packages.db: blob for package 1 fails its adler32 checksum"]
    assert packages == []  # the walk stops at the first bad blob: later offsets cannot be trusted


@pytest.mark.parametrize("data,problem", [
    (b"", "not an SQLite database"),
    (b"SQLite format 3\0" + b"\x10\x00" + b"\0" * 200, "cannot read rpm Packages table"),
])
def test_broken_sqlite_is_a_warning(data, problem):
    result = RpmCataloger().catalog({"/var/lib/rpm/rpmdb.sqlite": file("/var/lib/rpm/rpmdb.sqlite", data)})
    assert result.packages == () and len(result.warnings) == 1 and problem in result.warnings[0]


def test_hostile_header_counts_are_refused():
    blob = struct.pack(">II", 0xFFFFFFF, 16)
    with pytest.raises(CatalogError, match="claims 268435455 tags"):
        parse_header(blob, "/x")
    truncated = next(sqlite_blobs(SQLITE.read_bytes(), "x"))[:200]
    with pytest.raises(CatalogError, match="header is truncated"):
        parse_header(truncated, "/x")


def test_distro_namespace_without_os_release():
    (package, *_) = parse_sqlite(SQLITE.read_bytes(), "/x", Distro("rhel", "9.3"))
    assert package.purl.startswith("pkg:rpm/rhel/")


WAL_DIR = Path(__file__).parent / "testdata-wal/var/lib/rpm"


def test_uncheckpointed_wal_is_applied_like_sqlite_does(tmp_path):
    files = {f"/var/lib/rpm/{p.name}": file(f"/var/lib/rpm/{p.name}", p.read_bytes()) for p in WAL_DIR.iterdir()}
    result = RpmCataloger().catalog(files)
    assert result.warnings == ()
    names = {p.name for p in result.packages}
    assert names == {"crscan-hello", "crscan-tools", "crscan-tools-doc", "crscan-late"}
    for p in WAL_DIR.iterdir():
        shutil.copy(p, tmp_path / p.name)
    assert {row[0] for row in rpm_query(tmp_path, "sqlite")} == names  # rpm (through SQLite) agrees
    # without the WAL only the checkpointed packages are there
    del files["/var/lib/rpm/rpmdb.sqlite-wal"]
    assert {p.name for p in RpmCataloger().catalog(files).packages} == names - {"crscan-late"}


def test_torn_or_foreign_wal_frames_are_ignored():
    data, wal = (WAL_DIR / "rpmdb.sqlite").read_bytes(), (WAL_DIR / "rpmdb.sqlite-wal").read_bytes()
    torn = bytearray(wal)
    torn[-100] ^= 0xFF  # a damaged page fails the running checksum: that commit never happened
    assert {p.name for p in parse_sqlite(data, "/x", wal=bytes(torn))} == {"crscan-hello", "crscan-tools",
                                                                             "crscan-tools-doc"}
    foreign = bytearray(wal)
    foreign[16] ^= 0xFF  # header salt changed (a newer WAL generation): header checksum no longer matches
    assert len(parse_sqlite(data, "/x", wal=bytes(foreign))) == 3


def test_garbage_wal_is_a_warning_and_the_main_file_still_counts():
    warnings: list[str] = []
    packages = parse_sqlite((WAL_DIR / "rpmdb.sqlite").read_bytes(), "/var/lib/rpm/rpmdb.sqlite", None, warnings,
                            wal=b"\x00" * 64)
    assert len(packages) == 3
    assert warnings == ["/var/lib/rpm/rpmdb.sqlite-wal: not an SQLite WAL (bad magic)"]
