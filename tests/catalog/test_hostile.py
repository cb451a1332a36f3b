"""No input crashes a cataloger: random bytes and damaged real fixtures give packages and/or warnings only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crscan.catalog import default_catalogers
from crscan.catalog.interface import CatalogResult
from tests.catalog.helpers import file

CATALOG_TESTS = Path(__file__).parent
# (image path the cataloger wants, real fixture to damage)
SAMPLES = {
    "dpkg": ("/var/lib/dpkg/status", "dpkg/testdata/var/lib/dpkg/status"),
    "apk": ("/lib/apk/db/installed", "apk/testdata/lib/apk/db/installed"),
    "rpm-sqlite": ("/var/lib/rpm/rpmdb.sqlite", "rpm/testdata/var/lib/rpm/rpmdb.sqlite"),
    "rpm-bdb": ("/var/lib/rpm/Packages", "rpm/testdata/var/lib/rpm/Packages"),
    "rpm-ndb": ("/usr/lib/sysimage/rpm/Packages.db", "rpm/testdata/usr/lib/sysimage/rpm/Packages.db"),
    "python": ("/usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
               "python/testdata/usr/local/lib/python3.11/site-packages/markupsafe-3.0.4.dist-info/METADATA"),
    "npm-lock": ("/app/package-lock.json", "node/testdata/srv/lock-v1/package-lock.json"),
    "npm": ("/app/node_modules/debug/package.json", "node/testdata/app/node_modules/debug/package.json"),
    "jar": ("/usr/share/java/slf4j-api.jar", "java/testdata/usr/share/java/slf4j-api.jar"),
    "gemspec": ("/var/lib/gems/3.1.0/specifications/rack-2.2.22.gemspec",
                "ruby/testdata/usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec"),
    "cargo": ("/src/Cargo.lock", "rust/testdata/usr/src/wav_reader/Cargo.lock"),
    "composer": ("/app/vendor/composer/installed.json", "php/testdata/var/www/app/vendor/composer/installed.json"),
    "dotnet": ("/app/WebShop.deps.json", "dotnet/testdata/app/WebShop.deps.json"),
    "elf": ("/usr/local/bin/tool", "/bin/true"),
}


def run_all(path: str, data: bytes, mode: int = 0o755) -> None:
    image_file = file(path, data, mode=mode)
    for cataloger in default_catalogers():
        if cataloger.wants(path, mode, len(data)):
            result = cataloger.catalog({path: image_file})
            assert isinstance(result, CatalogResult)
            assert all(isinstance(w, str) and w for w in result.warnings)


def damaged(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    buffer = bytearray(data)
    for position, value in edits:
        buffer[position % len(buffer)] = value
    return bytes(buffer[:cut] if cut is not None else buffer)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), max_size=8),
       cut=st.none() | st.integers(0, 1 << 20))
def test_damaged_real_files_never_crash(sample, edits, cut):
    path, fixture = SAMPLES[sample]
    source = Path(fixture) if fixture.startswith("/") else CATALOG_TESTS / fixture
    run_all(path, damaged(source.read_bytes(), edits, cut))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4096), path=st.sampled_from(sorted(p for p, _ in SAMPLES.values())))
def test_random_bytes_never_crash(data, path):
    run_all(path, data)
