"""Licenses as each ecosystem's package metadata declares them (real test data, plus the forms it lacks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog import catalog_image
from crscan.catalog.node.parse_package_json import parse_package_json
from crscan.catalog.php.parse_installed_json import parse_installed_json
from crscan.catalog.python.parse_metadata import parse_metadata
from crscan.catalog.ruby.parse_gemspec import parse_gemspec
from tests.catalog.helpers import image_files

CATALOG_TESTS = Path(__file__).parent


def licenses(ecosystem: str) -> dict[str, tuple[str, ...]]:
    inventory = catalog_image(image_files(CATALOG_TESTS / ecosystem / "testdata"))
    return {p.name: p.licenses for p in inventory.packages if p.licenses}


def test_apk_license_field():
    assert licenses("apk") == {"bash": ("GPL-3.0-or-later",), "busybox-binsh": ("GPL-2.0-only",), "musl": ("MIT",),
                               "readline": ("GPL-2.0-or-later",)}


def test_rpm_license_tag():
    assert licenses("rpm") == {"crscan-hello": ("MIT",), "crscan-tools-doc": ("MIT",), "crscan-tools": ("MIT",)}


def test_python_license_header():
    found = licenses("python")
    assert found["pyjwt"] == ("MIT",) and found["markupsafe"] == ("BSD-3-Clause",)
    assert found["lazr-restfulclient"] == ("LGPL v3",)  # free text stays as written


def test_installed_npm_package_json_and_gemspec():
    assert licenses("node")["lodash"] == ("MIT",)
    assert licenses("ruby") == {"json": ("Ruby",), "rack": ("MIT",)}


@pytest.mark.parametrize(("headers", "expected"), [
    ("License-Expression: MIT OR Apache-2.0\nLicense: MIT\n", ("MIT OR Apache-2.0",)),
    ("License: UNKNOWN\nClassifier: License :: OSI Approved :: BSD License\n"
     "Classifier: Programming Language :: Python\n", ("BSD License",)),
    ("License: Copyright (c) 2024\n        Permission is hereby granted\n"
     "Classifier: License :: OSI Approved :: MIT License\n", ("MIT License",)),
    ("", ()),
])
def test_python_metadata_prefers_the_expression_then_a_one_line_header_then_classifiers(headers, expected):
    [package] = parse_metadata(f"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n{headers}".encode(), "/METADATA")
    assert package.licenses == expected


@pytest.mark.parametrize(("field", "expected"), [
    ('"license": "(MIT OR Apache-2.0)"', ("(MIT OR Apache-2.0)",)),
    ('"license": {"type": "ISC"}', ("ISC",)),
    ('"licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]', ("MIT", "Apache-2.0")),
    ('"license": 7', ()),
])
def test_package_json_license_forms(field, expected):
    [package] = parse_package_json(f'{{"name": "x", "version": "1.0.0", {field}}}'.encode(), "/x/package.json")
    assert package.licenses == expected


def test_composer_and_gemspec_license_lists():
    [package] = parse_installed_json(b'{"packages": [{"name": "a/b", "version": "1.0", '
                                     b'"license": ["MIT", "GPL-2.0-only"]}]}', "/installed.json")
    assert package.licenses == ("MIT", "GPL-2.0-only")
    gemspec = b'Gem::Specification.new do |s|\n  s.name = "x".freeze\n  s.version = "1"\n' \
              b'  s.licenses = ["MIT".freeze, "Ruby".freeze]\nend\n'
    assert parse_gemspec(gemspec, "/x.gemspec")[0].licenses == ("MIT", "Ruby")
