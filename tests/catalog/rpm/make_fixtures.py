"""Build the rpmdb fixtures under testdata/ from two tiny real RPMs.

    python tests/catalog/rpm/make_fixtures.py      (needs Debian's rpm + rpmbuild and db5.3-util)

- testdata/var/lib/rpm/rpmdb.sqlite: `rpm -i --justdb` into an sqlite rpmdb (Debian's rpm writes only sqlite);
- testdata/var/lib/rpm/Packages: the same header blobs loaded by Berkeley DB's own `db5.3_load -t hash`
  (keyed by package number, as rpm's bdb backend keys them); rpm's read-only bdb backend reads it back;
- testdata/usr/lib/sysimage/rpm/Packages.db: the same blobs written here byte by byte in rpm's NDB
  layout (see crscan/catalog/rpm/parse_ndb.py): no tool on Debian writes NDB;
- testdata-wal/var/lib/rpm/rpmdb.sqlite{,-wal}: the sqlite database plus a real, uncheckpointed WAL
  holding one more committed package (crscan-late, its header as rpm wrote it into a scratch database),
  copied while SQLite still had it open; rpm itself reads it back in the tests.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).parent
TESTDATA = HERE / "testdata"

SPECS = {
    "crscan-hello": """
Name: crscan-hello
Epoch: 2
Version: 1.2.3
Release: 4.el9
Summary: crscan test package with an epoch
License: MIT
%description
Test fixture.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc
printf '#!/bin/sh\\necho hello\\n' > %{buildroot}/usr/bin/crscan-hello
echo greeting=hello > %{buildroot}/etc/crscan-hello.conf
%files
/usr/bin/crscan-hello
%config /etc/crscan-hello.conf
""",
    "crscan-tools": """
Name: crscan-tools
Version: 0.9
Release: 1.el9
Summary: crscan test package with a subpackage
License: MIT
BuildArch: noarch
%description
Test fixture.
%package doc
Summary: documentation subpackage
%description doc
Test fixture documentation.
%install
mkdir -p %{buildroot}/usr/share/crscan-tools %{buildroot}/usr/share/doc/crscan-tools
echo data > %{buildroot}/usr/share/crscan-tools/data.txt
echo readme > %{buildroot}/usr/share/doc/crscan-tools/README
%files
/usr/share/crscan-tools/data.txt
%files doc
/usr/share/doc/crscan-tools/README
""",
}
# Built like the others but installed only through the WAL fixture.
LATE_SPEC = """
Name: crscan-late
Version: 3.0
Release: 1.el9
Summary: crscan test package committed only to the WAL
License: MIT
BuildArch: noarch
%description
Test fixture.
%install
mkdir -p %{buildroot}/usr/share/crscan-late
echo late > %{buildroot}/usr/share/crscan-late/late.txt
%files
/usr/share/crscan-late/late.txt
"""


def build_rpms(work: Path, specs: dict[str, str] = SPECS) -> list[Path]:
    for name, spec in specs.items():
        work.mkdir(parents=True, exist_ok=True)
        (work / f"{name}.spec").write_text("%global debug_package %{nil}\n" + spec.lstrip())
        subprocess.run(["rpmbuild", "--define", f"_topdir {work}/top", "-bb", str(work / f"{name}.spec")],
                       check=True, capture_output=True)
    return sorted((work / "top/RPMS").rglob("*.rpm"))


def install_sqlite(rpms: list[Path], dbpath: Path) -> None:
    dbpath.mkdir(parents=True)
    rpm = ["rpm", "--dbpath", str(dbpath), "--define", "_db_backend sqlite"]
    subprocess.run([*rpm, "--initdb"], check=True)
    subprocess.run([*rpm, "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos", *map(str, rpms)], check=True)
    connection = sqlite3.connect(dbpath / "rpmdb.sqlite")  # fold the WAL in, as rpm's next open would
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def blobs(sqlite_path: Path) -> list[tuple[int, bytes]]:
    connection = sqlite3.connect(sqlite_path)
    try:
        return connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    finally:
        connection.close()  # `with` only commits; closing removes the -wal/-shm side files


def write_bdb(rows: list[tuple[int, bytes]], target: Path) -> None:
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for hnum, blob in rows:
        dump += [" " + struct.pack("<I", hnum).hex(), " " + blob.hex()]
    dump.append("DATA=END")
    subprocess.run(["db5.3_load", "-t", "hash", str(target)], input="\n".join(dump) + "\n", text=True, check=True)


def write_ndb(rows: list[tuple[int, bytes]], target: Path) -> None:
    page, block = 4096, 16
    slots = bytearray(page)
    struct.pack_into("<4sIIII", slots, 0, b"RpmP", 0, len(rows), 1, len(rows) + 1)
    for slot in range(2, page // 16):  # the first two slots' space is the database header
        struct.pack_into("<4sIII", slots, slot * 16, b"Slot", 0, 0, 0)
    area = bytearray()
    stamp = int(time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, 0)))
    for slot, (hnum, blob) in enumerate(rows, 2):
        blocks = (16 + len(blob) + 12 + block - 1) // block
        head = struct.pack("<4sIII", b"BlbS", hnum, stamp, len(blob))
        padding = b"\0" * (blocks * block - 16 - len(blob) - 12)
        body = head + blob + padding
        offset = page // block + len(area) // block
        area += body + struct.pack("<II4s", zlib.adler32(body), len(blob), b"BlbE")
        struct.pack_into("<4sIII", slots, slot * 16, b"Slot", hnum, offset, blocks)
    target.write_bytes(bytes(slots) + bytes(area))


def write_with_wal(sqlite_path: Path, late_blob: bytes, target: Path) -> None:
    """Copy the database, then commit one more package's header in WAL mode and copy both files before
    closing (closing would checkpoint the WAL into the main file)."""
    target.mkdir(parents=True)
    shutil.copy(sqlite_path, target / "rpmdb.sqlite")
    connection = sqlite3.connect(target / "rpmdb.sqlite", isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA wal_autocheckpoint=0")
        connection.execute("INSERT INTO Packages (hnum, blob) VALUES ((SELECT max(hnum) + 1 FROM Packages), ?)",
                           (late_blob,))
        frozen = {name: (target / name).read_bytes() for name in ("rpmdb.sqlite", "rpmdb.sqlite-wal")}
    finally:
        connection.close()
    for name, data in frozen.items():
        (target / name).write_bytes(data)
    (target / "rpmdb.sqlite-shm").unlink(missing_ok=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rpms = build_rpms(work)
        install_sqlite(rpms, work / "db")
        shutil.rmtree(TESTDATA / "var/lib/rpm", ignore_errors=True)
        (TESTDATA / "var/lib/rpm").mkdir(parents=True)
        shutil.copy(work / "db/rpmdb.sqlite", TESTDATA / "var/lib/rpm/rpmdb.sqlite")
        rows = blobs(work / "db/rpmdb.sqlite")
        write_bdb(rows, TESTDATA / "var/lib/rpm/Packages")
        (TESTDATA / "usr/lib/sysimage/rpm").mkdir(parents=True, exist_ok=True)
        write_ndb(rows, TESTDATA / "usr/lib/sysimage/rpm/Packages.db")
        late = [p for p in build_rpms(work / "late", {"crscan-late": LATE_SPEC}) if "crscan-late" in p.name]
        install_sqlite(late, work / "late-db")
        (_, late_blob), = blobs(work / "late-db/rpmdb.sqlite")
        shutil.rmtree(HERE / "testdata-wal", ignore_errors=True)
        write_with_wal(TESTDATA / "var/lib/rpm/rpmdb.sqlite", late_blob, HERE / "testdata-wal/var/lib/rpm")


if __name__ == "__main__":
    main()
