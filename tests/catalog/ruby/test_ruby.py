"""Ruby: real gemspecs from Debian's ruby-rack and ruby-json packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog.catalogers import RUBY_GEMS
from crscan.model import Ecosystem
from tests.catalog.helpers import file, image_files

TESTDATA = Path(__file__).parent / "testdata"


def test_installed_gems():
    result = RUBY_GEMS.catalog(image_files(TESTDATA))
    assert result.warnings == ()
    assert {(p.name, p.version, p.purl) for p in result.packages} == {
        ("rack", "2.2.22", "pkg:gem/rack@2.2.22"), ("json", "2.6.3", "pkg:gem/json@2.6.3")}
    assert all(p.ecosystem is Ecosystem.GEM and p.path.endswith(".gemspec") for p in result.packages)


def test_stub_line_is_the_fallback():
    path = "/usr/local/bundle/specifications/default/rake-13.0.6.gemspec"
    result = RUBY_GEMS.catalog({path: file(path, "# stub: rake 13.0.6 ruby lib\nGem::Specification.new\n")})
    assert [(p.name, p.version) for p in result.packages] == [("rake", "13.0.6")]
    assert RUBY_GEMS.wants(path, 0o644, 1)


@pytest.mark.parametrize("data,problem", [(b"s.name = 'x'\n", "sets no version"), (b"\xff\xfe", "not UTF-8")])
def test_unreadable_gemspec_is_a_warning(data, problem):
    path = "/var/lib/gems/3.1.0/specifications/x-1.gemspec"
    result = RUBY_GEMS.catalog({path: file(path, data)})
    assert result.packages == () and result.warnings[0].startswith(path) and problem in result.warnings[0]


def test_megabytes_of_blank_lines_are_cheap_and_a_warning():
    path = "/var/lib/gems/3.1.0/specifications/blank-1.gemspec"
    result = RUBY_GEMS.catalog({path: file(path, b"\n" * 2_000_000 + b"  \t")})
    assert result.warnings == (f"{path}: gemspec sets no name",)
