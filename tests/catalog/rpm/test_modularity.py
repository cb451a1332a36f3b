"""A module stream's rpm, built by rpmbuild with its ModularityLabel and installed by `rpm -i --justdb`: the
cataloger keeps the label (purl `rpmmod`, Red Hat's qualifier) for matching advisories of that stream only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crscan.catalog.rpm.parse_sqlite import parse_sqlite
from crscan.match.osv import module_stream

SPEC = """Name: nodejs
Epoch: 1
Version: 18.19.0
Release: 1.module+el8.9.0+20473+c4e3d824
Summary: module stream package
License: MIT
BuildArch: noarch
ModularityLabel: nodejs:18:8090020231206131236:a75119d5
%description
A package of the nodejs:18 stream.
%files
"""


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="needs Debian's rpm and rpmbuild")
def test_modularity_label_reaches_the_package(tmp_path: Path):
    (tmp_path / "nodejs.spec").write_text(SPEC)
    subprocess.run(["rpmbuild", "--define", f"_topdir {tmp_path}/top", "-bb", str(tmp_path / "nodejs.spec")],
                   check=True, capture_output=True)
    (rpm_file,) = (tmp_path / "top" / "RPMS" / "noarch").glob("*.rpm")
    db = tmp_path / "db"
    subprocess.run(["rpm", "--dbpath", str(db), "--initdb"], check=True, capture_output=True)
    subprocess.run(["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", str(rpm_file)], check=True,
                   capture_output=True)
    subprocess.run(["rpm", "--dbpath", str(db), "-qa"], check=True, capture_output=True)  # folds the WAL in
    (package,) = parse_sqlite((db / "rpmdb.sqlite").read_bytes(), "/var/lib/rpm/rpmdb.sqlite")
    assert package.version == "1:18.19.0-1.module+el8.9.0+20473+c4e3d824"
    assert package.purl.endswith("&rpmmod=nodejs:18:8090020231206131236:a75119d5")
    assert module_stream(package) == "nodejs:18"
