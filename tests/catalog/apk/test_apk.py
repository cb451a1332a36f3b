"""apk: a real Alpine 3.19 installed database."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog.apk.cataloger import ApkCataloger
from crscan.catalog.distro import detect_distro
from crscan.model import Ecosystem
from tests.catalog.helpers import TESTDATA_LAYER, file, image_files

TESTDATA = Path(__file__).parent / "testdata"
INSTALLED = "/lib/apk/db/installed"


@pytest.fixture(scope="module")
def packages():
    files = image_files(TESTDATA)
    result = ApkCataloger().catalog(files, detect_distro(files))
    assert result.warnings == ()
    return {p.name: p for p in result.packages}


def test_names_versions_and_origins(packages):
    assert {(p.name, p.version, p.arch, p.source_name) for p in packages.values()} == {
        ("bash", "5.2.21-r0", "x86_64", "bash"),
        ("busybox-binsh", "1.36.1-r15", "x86_64", "busybox"),  # subpackage: advisories are keyed by origin
        ("musl", "1.2.4_git20230717-r4", "x86_64", "musl"),
        ("readline", "8.2.1-r2", "x86_64", "readline"),
    }
    assert all(p.ecosystem is Ecosystem.APK and p.layer == TESTDATA_LAYER and p.path == INSTALLED
               for p in packages.values())


def test_owned_files_join_directory_and_name(packages):
    assert packages["musl"].files == ("/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1")
    assert packages["readline"].files == ("/etc/inputrc", "/usr/lib/libreadline.so.8")
    assert packages["bash"].files == ()


def test_purl(packages):
    assert packages["busybox-binsh"].purl == \
        "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.0&upstream=busybox"
    assert packages["musl"].purl == "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.0"


def test_truncated_database_keeps_whole_stanzas():
    data = (TESTDATA / "lib/apk/db/installed").read_bytes()
    cut = data.index(b"V:8.2.1-r2")
    result = ApkCataloger().catalog({INSTALLED: file(INSTALLED, data[:cut])})
    assert {p.name for p in result.packages} == {"bash", "busybox-binsh", "musl"}
    assert result.warnings == (f"{INSTALLED}:58: package readline has no V: line",)


@pytest.mark.parametrize("junk", [b"\x89PNG\r\n\x1a\n\x00\x00", b"this is not an apk database\n"])
def test_junk_database_is_one_warning(junk):
    result = ApkCataloger().catalog({INSTALLED: file(INSTALLED, junk)})
    assert result.packages == ()
    assert len(result.warnings) == 1 and result.warnings[0].startswith(INSTALLED)
