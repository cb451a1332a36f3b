"""Python: real dist-info (pip-installed wheels) and egg-info (Debian's python3-* packages) metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog.catalogers import PYTHON
from crscan.catalog.python.parse_metadata import normalize_name
from crscan.model import Ecosystem
from tests.catalog.helpers import TESTDATA_LAYER, file, image_files

TESTDATA = Path(__file__).parent / "testdata"
SITE = "/usr/local/lib/python3.11/site-packages"


def test_installed_distributions():
    result = PYTHON.catalog(image_files(TESTDATA))
    assert result.warnings == ()
    assert {(p.name, p.version, p.path) for p in result.packages} == {
        ("packageurl-python", "0.17.6", f"{SITE}/packageurl_python-0.17.6.dist-info/METADATA"),
        ("markupsafe", "3.0.4", f"{SITE}/markupsafe-3.0.4.dist-info/METADATA"),
        ("charset-normalizer", "3.5.3", f"{SITE}/charset_normalizer-3.5.3.dist-info/METADATA"),
        ("pyjwt", "2.6.0", "/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO"),
        ("lazr-restfulclient", "0.14.5", "/usr/lib/python3/dist-packages/lazr.restfulclient-0.14.5.egg-info/PKG-INFO"),
    }
    by_name = {p.name: p for p in result.packages}
    assert by_name["markupsafe"].purl == "pkg:pypi/markupsafe@3.0.4"
    assert all(p.ecosystem is Ecosystem.PYPI and p.layer == TESTDATA_LAYER for p in result.packages)


def test_egg_info_as_a_single_file():
    # setuptools' `install_egg_info` writes *.egg-info as one file; Debian packages did for years.
    path = "/usr/lib/python3/dist-packages/six-1.16.0.egg-info"
    result = PYTHON.catalog({path: file(path, "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n")})
    assert [(p.name, p.version, p.path) for p in result.packages] == [("six", "1.16.0", path)]


@pytest.mark.parametrize("name,expected", [("Django", "django"), ("zope.interface", "zope-interface"),
                                           ("ruamel.yaml.clib", "ruamel-yaml-clib"), ("a__b-_.c", "a-b-c")])
def test_pep503_normalisation(name, expected):
    assert normalize_name(name) == expected


def test_bad_encoding_and_missing_fields_are_warnings():
    base = f"{SITE}/x-1.dist-info/METADATA"
    files = {
        f"{SITE}/latin-1.dist-info/METADATA": file(f"{SITE}/latin-1.dist-info/METADATA",
                                                  b"Name: caf\xe9\nVersion: 1.0\n"),
        f"{SITE}/noversion-1.dist-info/METADATA": file(f"{SITE}/noversion-1.dist-info/METADATA", "Name: noversion\n"),
        f"{SITE}/empty-1.dist-info/METADATA": file(f"{SITE}/empty-1.dist-info/METADATA", b""),
        base: file(base, "Metadata-Version: 2.1\nName: x\nVersion: 1\n"),
    }
    result = PYTHON.catalog(files)
    assert [p.name for p in result.packages] == ["x"]
    assert sorted(result.warnings) == [
        f"{SITE}/empty-1.dist-info/METADATA: metadata has no Name header",
        f"{SITE}/latin-1.dist-info/METADATA: metadata is not UTF-8 (invalid byte at offset 9)",
        f"{SITE}/noversion-1.dist-info/METADATA: metadata has no Version header",
    ]


def test_wants():
    cataloger = PYTHON
    assert cataloger.wants(f"{SITE}/six-1.16.0.dist-info/METADATA", 0o644, 1)
    assert cataloger.wants("/usr/lib/python3/dist-packages/six-1.16.0.egg-info", 0o644, 1)
    assert not cataloger.wants(f"{SITE}/six-1.16.0.dist-info/RECORD", 0o644, 1)
    assert not cataloger.wants(f"{SITE}/six.py", 0o644, 1)
